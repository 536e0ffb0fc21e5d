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
        Ok(url) if !url.is_empty() => diagd::store::with_database_name(&url, "{db}"),
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

/// A running diagd with its own database. The server runs on a runtime of
/// its own (in its own thread), like a separate process: blocking the test's
/// runtime never stalls the server's connections, and dropping the server
/// closes every one of them before its database is dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database's name.
    pub dbname: String,
    /// Stops the server.
    shutdown: CancellationToken,
    /// The server's thread; joined on drop.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts diagd on a new database and a free port.
    pub async fn start() -> TestServer {
        Self::start_with(test_options()).await
    }

    /// Starts diagd with the given options on a new database.
    pub async fn start_with(options: ServerOptions) -> TestServer {
        Self::start_on(unique_database_name(), options).await
    }

    /// Starts diagd on database `dbname` (created when missing), e.g. a
    /// second replica on the database of another test server.
    pub async fn start_on(dbname: String, options: ServerOptions) -> TestServer {
        let url = database_url(&dbname);
        let mut server = Self::start_at_url(url, options).await;
        server.dbname = dbname;
        server
    }

    /// Starts diagd on the database at `url` (which the test owns: it is
    /// not dropped with the server).
    pub async fn start_at_url(url: String, options: ServerOptions) -> TestServer {
        Self::start_at_url_with_pool(url, options, test_pool()).await
    }

    /// Starts diagd on a new database with these pool settings.
    pub async fn start_with_pool(options: ServerOptions, pool: PoolOptions) -> TestServer {
        let dbname = unique_database_name();
        let mut server = Self::start_at_url_with_pool(database_url(&dbname), options, pool).await;
        server.dbname = dbname;
        server
    }

    /// Starts diagd on the database at `url` with these pool settings.
    pub async fn start_at_url_with_pool(
        url: String,
        options: ServerOptions,
        pool: PoolOptions,
    ) -> TestServer {
        let shutdown = CancellationToken::new();
        let (ready, started) = tokio::sync::oneshot::channel();
        let server_shutdown = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let store = Store::connect(&url, &pool)
                    .await
                    .expect("connecting to the test database");
                store.migrate().await.expect("migrating the test database");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let _ = ready.send(listener.local_addr().expect("local addr"));
                if let Err(e) = server::run(store, listener, options, server_shutdown).await {
                    eprintln!("test server failed: {e}");
                }
            });
        });
        let addr = started.await.expect("the test server failed to start");
        TestServer {
            addr,
            dbname: String::new(),
            shutdown,
            thread: Some(thread),
        }
    }
    /// A new client connected to this server.
    pub async fn client(&self) -> Client {
        DiagnosticsServiceClient::new(self.channel().await)
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// A store on this server's database, for checks behind the API's back.
    pub async fn store(&self) -> Store {
        Store::connect(&database_url(&self.dbname), &PoolOptions::default())
            .await
            .expect("connecting to the test database")
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

    /// Stops the server and waits until it has closed its connections; the
    /// database stays.
    pub fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        if !self.dbname.is_empty() {
            drop_database_blocking(&self.dbname);
        }
    }
}

/// The test servers' pools: 8 write connections, the default read pool.
pub fn test_pool() -> PoolOptions {
    PoolOptions {
        max_connections: 8,
        acquire_timeout: Duration::from_secs(5),
        ..PoolOptions::default()
    }
}

/// Server options for tests: fast health checks, short grace, exports in a
/// temporary directory.
pub fn test_options() -> ServerOptions {
    let mut options = ServerOptions {
        health_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_millis(100),
        ..ServerOptions::default()
    };
    options.api.export_dir = std::env::temp_dir().join(format!(
        "diagd-test-exports-{}",
        uuid::Uuid::new_v4().simple()
    ));
    options
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

/// Waits until GetStats counts `total` logs (retention, a second replica);
/// the stats at that moment.
pub async fn wait_for_total(client: &mut Client, total: u64) -> pb::GetStatsResponse {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stats = stats(client).await;
        if stats.total == total {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "still {} logs, expected {total}",
            stats.total
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Unfiltered stats.
pub async fn stats(client: &mut Client) -> pb::GetStatsResponse {
    client
        .get_stats(pb::GetStatsRequest::default())
        .await
        .expect("GetStats")
        .into_inner()
}

/// Starts (or restarts, on the same port) a private PostgreSQL cluster in
/// `base`, for tests that stop PostgreSQL under a running diagd.
pub async fn start_private_cluster(base: &std::path::Path) -> EmbeddedPostgres {
    let base = base.to_path_buf();
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&base, Ownership::Exclusive))
        .await
        .unwrap()
        .expect("a private cluster")
}

/// Waits (up to 15 s) until the health of `service` ("" = the server) is
/// `want`.
pub async fn wait_for_health(
    client: &mut tonic_health::pb::health_client::HealthClient<Channel>,
    service: &str,
    want: tonic_health::pb::health_check_response::ServingStatus,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = client
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .map(|r| r.into_inner().status());
        if status.as_ref().ok() == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health of {service:?} stayed {status:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
            let reason = error_reason(&status);
            assert!(
                !reason.is_empty(),
                "every status diagd sends carries an ErrorInfo of domain \"diagd\": {status:?}"
            );
        }
    }
}

/// The `ErrorInfo.reason` of a status from diagd ("" when it has none, or
/// one of another domain).
pub fn error_reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    match status.get_details_error_info() {
        Some(info) if info.domain == diagd::api::error::DOMAIN => info.reason,
        _ => String::new(),
    }
}

/// A `diagd` process a test started, killed if the test ends without
/// waiting for it (a failed assertion), so that no server outlives its test.
pub struct Serving(Option<std::process::Child>);

impl Serving {
    /// Guards `child`.
    pub fn new(child: std::process::Child) -> Serving {
        Serving(Some(child))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("the process is still guarded").id()
    }

    /// The process, no longer killed on drop: the test waits for it itself.
    pub fn into_inner(mut self) -> std::process::Child {
        self.0.take().expect("the process is still guarded")
    }
}

impl std::ops::Deref for Serving {
    type Target = std::process::Child;

    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("the process is still guarded")
    }
}

impl std::ops::DerefMut for Serving {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the process is still guarded")
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `diagd serve` process on test database `dbname` (beside the test's
/// own server, like a second replica), on a free port; returns it and the
/// port.
pub fn serve_on_database(dbname: &str) -> (Serving, u16) {
    serve_on_database_logging(dbname, "warn", std::process::Stdio::null())
}

/// [`serve_on_database`] with diagd's own log at `level` (`DIAGD_LOG`,
/// human format) written to `stderr` (e.g. `Stdio::piped()`).
pub fn serve_on_database_logging(
    dbname: &str,
    level: &str,
    stderr: std::process::Stdio,
) -> (Serving, u16) {
    serve_on_database_with(dbname, level, stderr, &[])
}

/// A free loopback port (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// [`serve_on_database_logging`] with more `serve` arguments.
pub fn serve_on_database_with(
    dbname: &str,
    level: &str,
    stderr: std::process::Stdio,
    args: &[&str],
) -> (Serving, u16) {
    serve_at_url(&database_url(dbname), &[], level, stderr, args)
}

/// A `diagd serve` process on the database at `url` with more environment
/// variables (e.g. `DATABASE_READ_URL`) and `serve` arguments, on a free
/// port; returns it and the port.
pub fn serve_at_url(
    url: &str,
    env: &[(&str, &str)],
    level: &str,
    stderr: std::process::Stdio,
    args: &[&str],
) -> (Serving, u16) {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("DATABASE_URL", url)
        .envs(env.iter().copied())
        .env("DIAGD_LOG", level)
        .env_remove("DIAGD_LOG_FORMAT")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawning diagd serve");
    (Serving::new(child), port)
}

/// A client of a `diagd serve` child on `port`, once it accepts
/// connections (within 30 s).
pub async fn connect_to_port(port: u16) -> Client {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match pb::diagnostics_service_client::DiagnosticsServiceClient::connect(format!(
            "http://127.0.0.1:{port}"
        ))
        .await
        {
            Ok(client) => return client,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("diagd serve on port {port} did not start: {e}"),
        }
    }
}

/// Stops a `diagd serve` child with SIGTERM and waits for it (off the
/// runtime thread); returns how it exited.
pub async fn terminate(child: Serving) -> std::process::ExitStatus {
    let child = child.into_inner();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM to diagd");
    let mut child = child;
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("waiting for diagd")
        .expect("diagd's exit status")
}

/// A plain PostgreSQL connection to a test server's database, for checking
/// what is stored.
pub async fn connect_database(server: &TestServer) -> tokio_postgres::Client {
    let (db, connection) =
        tokio_postgres::connect(&database_url(&server.dbname), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    db
}

/// The stack traces stored (each distinct trace once), read from the test's
/// database directly.
pub async fn stored_traces(server: &TestServer) -> Vec<String> {
    let db = connect_database(server).await;
    let mut traces: Vec<String> = db
        .query("SELECT trace FROM stack_traces", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    traces.sort();
    traces
}

/// Logs whose stack trace is missing from the traces table.
pub async fn logs_missing_their_trace(server: &TestServer) -> i64 {
    let db = connect_database(server).await;
    db.query_one(
        "SELECT count(*) FROM logs WHERE stack_trace_hash IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM stack_traces st WHERE st.hash = logs.stack_trace_hash)",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// ClearLogs, confirmed: the logs of `severities` (every log when empty),
/// exported first when asked.
pub async fn clear(
    client: &mut Client,
    severities: &[pb::Severity],
    export_first: bool,
) -> pb::ClearLogsResponse {
    client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            severities: severities.iter().map(|s| *s as i32).collect(),
            export_first,
            ..Default::default()
        })
        .await
        .expect("ClearLogs")
        .into_inner()
}

/// Peak resident memory of process `pid` since it started or since the
/// peak was last reset (VmHWM), in bytes.
pub fn peak_rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// The whole JSON text of report `id`, downloaded chunk by chunk.
pub async fn download_report_bytes(client: &mut Client, id: String) -> Vec<u8> {
    let mut stream = client
        .download_report(pb::DownloadReportRequest { report_id: id })
        .await
        .expect("DownloadReport")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        bytes.extend_from_slice(&chunk.chunk);
    }
    bytes
}
