//! Test harness: a real diagd on a free loopback port, reached by a real
//! tonic client, over a real PostgreSQL. The cluster is the one at
//! `DATABASE_URL` when set, otherwise a throwaway embedded cluster the tests
//! start themselves (shared by the test binaries, in the system temp dir).
//! Every test server gets its own database, dropped when the server is.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::OnceLock,
    time::{Duration, Instant},
};

use diagd::{
    api::pb::{self, diagnostics_service_client::DiagnosticsServiceClient},
    server::{self, ServerOptions},
    store::{
        PoolOptions, Store,
        embedded::{EmbeddedPostgres, Ownership},
    },
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The diagd client the tests use.
pub type Client = DiagnosticsServiceClient<Channel>;

/// Where test databases are created: a URL with `{db}` where the database
/// name goes.
fn url_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => with_database(&url, "{db}"),
        _ => {
            let dir = std::env::var_os("DIAGD_TEST_CLUSTER_DIR")
                .map(Into::into)
                .unwrap_or_else(|| std::env::temp_dir().join("diagd-test-cluster"));
            let cluster =
                EmbeddedPostgres::start(&dir, Ownership::SharedForTests).unwrap_or_else(|e| {
                    panic!("starting the test PostgreSQL in {}: {e}", dir.display())
                });
            let template = cluster.database_url("{db}");
            // Shared: the cluster stays up for the other test binaries.
            std::mem::forget(cluster);
            template
        }
    })
}

/// `url` with its database name replaced by `dbname`.
fn with_database(url: &str, dbname: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{dbname}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The URL of test database `dbname`.
pub fn database_url(dbname: &str) -> String {
    url_template().replace("{db}", dbname)
}

/// A fresh, unique database name.
pub fn unique_database_name() -> String {
    format!("diagd_test_{}", uuid::Uuid::new_v4().simple())
}

/// Drops a test database (blocking; safe to call from Drop).
pub fn drop_database_blocking(dbname: &str) {
    let admin = database_url("postgres");
    let dbname = dbname.to_string();
    let result = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(diagd::store::drop_database(&admin, &dbname))
    })
    .join();
    if let Ok(Err(e)) = result {
        eprintln!("dropping test database: {e}");
    }
}

/// A running diagd with its own database.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store it uses (for checks behind the API's back).
    pub store: Store,
    /// Its database's name.
    pub dbname: String,
    /// Stops the server.
    shutdown: CancellationToken,
}

impl TestServer {
    /// Starts diagd on a new database and a free port.
    pub async fn start() -> TestServer {
        Self::start_with(ServerOptions {
            health_interval: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(1),
            ..ServerOptions::default()
        })
        .await
    }

    /// Starts diagd with the given options.
    pub async fn start_with(options: ServerOptions) -> TestServer {
        let dbname = unique_database_name();
        let url = database_url(&dbname);
        let store = Store::connect(
            &url,
            &PoolOptions {
                max_connections: 8,
                acquire_timeout: Duration::from_secs(5),
            },
        )
        .await
        .expect("connecting to the test database");
        store.migrate().await.expect("migrating the test database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        tokio::spawn(server::run(
            store.clone(),
            listener,
            options,
            shutdown.clone(),
        ));
        TestServer {
            addr,
            store,
            dbname,
            shutdown,
        }
    }

    /// A new client connected to this server.
    pub async fn client(&self) -> Client {
        DiagnosticsServiceClient::new(self.channel().await)
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// A raw channel to this server (for health and reflection clients).
    pub async fn channel(&self) -> Channel {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Channel::from_shared(format!("http://{}", self.addr))
                .expect("uri")
                .connect()
                .await
            {
                Ok(channel) => return channel,
                Err(e) if Instant::now() > deadline => panic!("connecting to diagd: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Stops the server (the database stays until drop).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        drop_database_blocking(&self.dbname);
    }
}

/// A valid log with this message, severity and type; the rest empty.
pub fn new_log(message: &str, severity: pb::Severity, error_type: pb::ErrorType) -> pb::NewLog {
    pb::NewLog {
        severity: severity as i32,
        error_type: error_type as i32,
        message: message.to_string(),
        ..Default::default()
    }
}

/// A protobuf timestamp from an RFC 3339 string.
pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t: chrono::DateTime<chrono::Utc> = rfc3339.parse().expect("RFC 3339 time");
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// A `Struct` from a JSON object literal.
pub fn json_struct(value: serde_json::Value) -> prost_types::Struct {
    fn to_value(value: serde_json::Value) -> prost_types::Value {
        use prost_types::value::Kind;
        let kind = match value {
            serde_json::Value::Null => Kind::NullValue(0),
            serde_json::Value::Bool(b) => Kind::BoolValue(b),
            serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Kind::StringValue(s),
            serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
                values: a.into_iter().map(to_value).collect(),
            }),
            serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
                fields: o.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
            }),
        };
        prost_types::Value { kind: Some(kind) }
    }
    match to_value(value).kind {
        Some(prost_types::value::Kind::StructValue(s)) => s,
        _ => panic!("json_struct needs a JSON object"),
    }
}

/// Reports one log and returns its id.
pub async fn report(client: &mut Client, log: pb::NewLog) -> String {
    client
        .report_error(pb::ReportErrorRequest { log: Some(log) })
        .await
        .expect("ReportError")
        .into_inner()
        .id
}

/// Sends `batches` over one IngestLogs stream and returns the totals.
pub async fn ingest(client: &mut Client, batches: Vec<Vec<pb::NewLog>>) -> pb::IngestLogsResponse {
    let requests: Vec<pb::IngestLogsRequest> = batches
        .into_iter()
        .map(|logs| pb::IngestLogsRequest { logs })
        .collect();
    client
        .ingest_logs(tokio_stream::iter(requests))
        .await
        .expect("IngestLogs")
        .into_inner()
}

/// Unfiltered stats.
pub async fn stats(client: &mut Client) -> pb::GetStatsResponse {
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .expect("GetStats")
        .into_inner()
}

/// Asserts that `result` failed with `code` and a message containing `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    match result {
        Ok(value) => panic!("expected {code:?} containing {needle:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "status: {status:?}");
            assert!(
                status.message().contains(needle),
                "expected message containing {needle:?}, got {:?}",
                status.message()
            );
        }
    }
}
