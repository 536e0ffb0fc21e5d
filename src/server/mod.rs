//! Running diagd: opening the database (external or embedded), serving the
//! gRPC service with reflection and health, keeping health in step with the
//! database, and shutting down gracefully. Its submodules are the serving
//! plumbing: tokens (`auth`), `tls`, connection limits (`incoming`),
//! `request_timeout`, `batched_writes`, `memory`, diagd's own log
//! (`telemetry`) and its `metrics`, the OTLP/HTTP listener (`otlp_http`;
//! OTLP/gRPC is served with the rest), and the browser page (`page`), served
//! with gRPC-Web on the gRPC port (`browser_host`: DNS-rebinding protection
//! while there are no tokens).

pub mod auth;
pub mod batched_writes;
pub mod browser_host;
pub mod incoming;
pub mod memory;
pub mod metrics;
pub mod otlp_http;
pub mod page;
pub mod request_timeout;
pub mod telemetry;
pub mod tls;

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    api::{ApiSettings, DiagnosticsApi, pb},
    config::DatabaseArgs,
    server::auth::{AuthLayer, Tokens},
    server::incoming::ConnectionLimits,
    server::request_timeout::RequestTimeoutLayer,
    server::tls::ServerTls,
    store::{
        Store, StoreError,
        embedded::{EmbeddedError, EmbeddedPostgres, Ownership, SupervisedPostgres},
    },
    workers::debug_mode::{self, LogControl},
    workers::retention::{Retention, RetentionOptions},
    workers::tail::{Hub, TailOptions},
};

/// How long a peer has to answer an HTTP/2 keepalive ping.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Name of the database diagd uses inside its embedded cluster.
pub const EMBEDDED_DATABASE: &str = "diagd";

/// Why diagd could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The embedded PostgreSQL could not be prepared or started.
    #[error("embedded PostgreSQL: {0}")]
    Embedded(#[from] EmbeddedError),
    /// The database could not be reached or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The OTLP/HTTP address could not be bound.
    #[error("OTLP/HTTP listener on {address}: {error}")]
    OtlpHttp {
        /// The address of --otlp-http-listen.
        address: std::net::SocketAddr,
        /// What went wrong.
        error: String,
    },
    /// Reflection could not be set up.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The metrics address could not be bound.
    #[error("metrics endpoint on {address}: {error}")]
    Metrics {
        /// `--metrics-listen`.
        address: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// The open database: the store and, on the embedded default, the cluster
/// that must stay alive as long as the store is used.
pub struct Database {
    /// The connection pool.
    pub store: Store,
    /// The embedded cluster, when DATABASE_URL was not given (restarted
    /// when its postmaster dies, until closed).
    pub embedded: Option<SupervisedPostgres>,
}

impl Database {
    /// Connects to DATABASE_URL, or initialises/starts the embedded cluster
    /// in the data directory and connects to it.
    pub async fn open(args: &DatabaseArgs) -> Result<Database, ServerError> {
        let options = args.pool_options();
        match &args.database_url {
            Some(url) => Ok(Database {
                store: Store::connect(url, &options).await?,
                embedded: None,
            }),
            None => {
                let data_dir = args.data_dir();
                tracing::info!(data_dir = %data_dir.display(), "no DATABASE_URL: using the embedded PostgreSQL");
                let cluster = tokio::task::spawn_blocking(move || {
                    EmbeddedPostgres::start(&data_dir, Ownership::Exclusive)
                })
                .await
                .map_err(|e| StoreError::Unavailable(format!("starting PostgreSQL: {e}")))??;
                let store =
                    Store::connect(&cluster.database_url(EMBEDDED_DATABASE), &options).await?;
                Ok(Database {
                    store,
                    embedded: Some(SupervisedPostgres::new(cluster)),
                })
            }
        }
    }

    /// Stops the embedded cluster, if any (after the server has stopped).
    pub async fn close(self) {
        drop(self.store);
        if let Some(cluster) = self.embedded {
            match cluster.stop().await {
                Ok(()) => tracing::info!("embedded PostgreSQL stopped"),
                Err(e) => tracing::warn!(error = %e, "stopping the embedded PostgreSQL failed"),
            }
        }
    }
}

/// How the gRPC server behaves.
#[derive(Clone)]
pub struct ServerOptions {
    /// Settings of the RPCs.
    pub api: ApiSettings,
    /// Live-tail settings.
    pub tail: TailOptions,
    /// Bearer tokens by role; empty = access control off.
    pub tokens: Tokens,
    /// Automatic deletion of old logs (off by default).
    pub retention: RetentionOptions,
    /// Longest time to answer a unary request (a server stream: to start);
    /// client streams are not cut by it.
    pub request_timeout: Duration,
    /// Open connections and the handshake deadline.
    pub connections: ConnectionLimits,
    /// Interval of HTTP/2 keepalive pings; a peer that does not answer one
    /// within 20 s is disconnected.
    pub keepalive: Duration,
    /// diagd's own log filter, switched by debug mode; `None` leaves the
    /// process's logging alone (tests running several servers).
    pub log_control: Option<LogControl>,
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Time between database health checks.
    pub health_interval: Duration,
    /// Time open streams get to finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// TLS on the gRPC port; `None`: plaintext (HTTP/2 prior knowledge).
    pub tls: Option<ServerTls>,
    /// Where to serve diagd's metrics (`GET /metrics`); `None`: nowhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Where to serve OTLP/HTTP logs (`POST /v1/logs`); `None`: nowhere
    /// (OTLP/gRPC is always on the gRPC port).
    pub otlp_http_listen: Option<std::net::SocketAddr>,
    /// How alerts are delivered.
    pub alerts: crate::workers::alerts::AlertOptions,
    /// Origins whose pages may call diagd over gRPC-Web (CORS) and embed
    /// its page; empty: same origin only.
    pub cors_origins: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            api: ApiSettings::default(),
            tail: TailOptions::default(),
            tokens: Tokens::default(),
            retention: RetentionOptions::default(),
            request_timeout: Duration::from_secs(60),
            connections: ConnectionLimits::default(),
            keepalive: Duration::from_secs(60),
            log_control: None,
            metrics_listen: None,
            otlp_http_listen: None,
            alerts: crate::workers::alerts::AlertOptions::default(),
            cors_origins: Vec::new(),
            max_message_bytes: 16 * 1024 * 1024,
            health_interval: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Serves diagd on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for at most the grace period.
pub async fn run(
    store: Store,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    if store.has_standby() {
        tokio::spawn(watch_standby(
            store.clone(),
            health_reporter.clone(),
            shutdown.clone(),
        ));
    }
    let health_task = tokio::spawn(watch_database_health(
        store.clone(),
        health_reporter,
        options.health_interval,
        shutdown.clone(),
    ));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(opentelemetry_proto::DESCRIPTORS)
            .with_service_name("diagnostics.v1.DiagnosticsService")
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("opentelemetry.proto.collector.logs.v1.LogsService")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection")
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let debug_mode =
        debug_mode::follow(store.clone(), options.log_control.clone(), shutdown.clone());
    let hub = Hub::start(store.clone(), options.tail.clone(), shutdown.clone()).await?;
    tokio::spawn(crate::server::memory::return_freed_memory(shutdown.clone()));
    // Stack traces left without logs (a removal that failed, clears by
    // older versions) go in the background, a batch at a time.
    tokio::spawn({
        let store = store.clone();
        async move { store.sweep_unreferenced_traces().await }
    });
    // Logs stored before error groups existed get theirs.
    tokio::spawn(crate::workers::grouping::backfill(
        store.clone(),
        options.api.grouping.clone(),
        shutdown.clone(),
    ));
    crate::workers::partitions::start(store.clone(), shutdown.clone());
    let retention = Retention::start(store.clone(), options.retention.clone(), shutdown.clone());
    if let Some(address) = options.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| ServerError::Metrics { address, error })?;
        let (store, hub, shutdown) = (store.clone(), hub.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(listener, store, hub, shutdown).await {
                tracing::error!(error = %e, "the metrics endpoint failed");
            }
        });
    }
    let mut api_settings = options.api.clone();
    api_settings.max_message_bytes = options.max_message_bytes;
    let runs = crate::workers::runs::start(store.clone(), shutdown.clone());
    let alerts =
        crate::workers::alerts::start(store.clone(), options.alerts.clone(), shutdown.clone());
    let api = DiagnosticsApi::new(
        store,
        api_settings,
        debug_mode,
        crate::api::WorkerHandles {
            hub,
            retention,
            runs,
            alerts,
        },
        shutdown.clone(),
    );
    if let Some(address) = options.otlp_http_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| ServerError::OtlpHttp {
                address,
                error: error.to_string(),
            })?;
        tracing::info!(address = %listener.local_addr().unwrap_or(address), tls = options.tls.is_some(), "OTLP/HTTP logs on POST /v1/logs");
        let serving = otlp_http::serve(
            listener,
            api.clone(),
            options.tokens.clone(),
            options.tls.clone(),
            options.connections,
            options.max_message_bytes,
            options.request_timeout,
            shutdown.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = serving.await {
                tracing::error!(error = %e, "the OTLP/HTTP listener failed");
            }
        });
    }
    let otlp = api.otlp_server(options.max_message_bytes);
    let max_message_bytes = options.max_message_bytes;
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &options.tls {
        builder = builder.tls_config(tls.server_config())?;
    }
    let refused_connections = Arc::new(AtomicU64::new(0));
    let frame_ancestors = if options.cors_origins.is_empty() {
        "'none'".to_string()
    } else {
        options.cors_origins.join(" ")
    };
    // Each gRPC service also answers gRPC-Web (the page, over HTTP/1.1 or
    // HTTP/2); the page's files are plain HTTP beside them.
    use tower::Layer;
    let web = tonic_web::GrpcWebLayer::new();
    let routes = tonic::service::Routes::from(page::routes(frame_ancestors))
        .add_service(web.layer(health_service))
        .add_service(web.layer(reflection_v1))
        .add_service(web.layer(reflection_v1alpha))
        .add_service(web.layer(api.into_server(options.max_message_bytes)))
        .add_service(web.layer(otlp))
        .prepare();
    let server = builder
        // HTTP/1.1 for the page and gRPC-Web; HTTP/2 gRPC as before.
        .accept_http1(true)
        .http2_keepalive_interval(Some(options.keepalive))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        // Each request with its timing, logged at debug level (debug mode);
        // failures by whose they are (crate::server::telemetry::log_grpc_failure).
        .layer(
            tower_http::trace::TraceLayer::new_for_grpc()
                .on_failure(crate::server::telemetry::log_grpc_failure),
        )
        // Without tokens (and without TLS), browsers only by IP or localhost.
        .layer(tower::util::option_layer(
            (options.tokens.is_empty() && options.tls.is_none())
                .then_some(browser_host::BrowserHostLayer),
        ))
        // Before tokens: a CORS preflight carries none.
        .layer(tower::util::option_layer(cors_layer(&options.cors_origins)))
        .layer(AuthLayer::new(options.tokens.clone()))
        .layer(RequestTimeoutLayer::new(options.request_timeout))
        // Oversized requests answer RESOURCE_EXHAUSTED, like every other limit.
        .layer(tower::util::MapResponseLayer::new(move |response| {
            crate::api::error::rewrite_transport_status(response, max_message_bytes)
        }))
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            crate::server::incoming::accept(listener, options.connections, refused_connections),
            shutdown.clone().cancelled_owned(),
        );

    let result = tokio::select! {
        result = server => result.map_err(ServerError::from),
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(options.shutdown_grace).await;
        } => {
            tracing::warn!(grace = ?options.shutdown_grace, "open streams did not finish in time; closing them");
            Ok(())
        }
    };
    shutdown.cancel();
    let _ = health_task.await;
    result
}

/// A trailers-only answer carrying `status` for a request refused before its
/// service ran (a token, the request timeout), in the request's protocol:
/// gRPC-Web (the page) when its content type says so, else gRPC.
pub(crate) fn status_answer<B: Default>(
    status: tonic::Status,
    request_content_type: Option<http::HeaderValue>,
) -> http::Response<B> {
    let mut response = status.into_http();
    if let Some(content_type) =
        request_content_type.filter(|v| v.as_bytes().starts_with(b"application/grpc-web"))
    {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type);
    }
    response
}

/// CORS for `--cors-origin`: those origins may call any RPC over gRPC-Web
/// with a token and read gRPC's status trailers; none when the list is empty.
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, HeaderValue, Method};
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let header = HeaderName::from_static;
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
            .allow_headers([
                http::header::AUTHORIZATION,
                http::header::CONTENT_TYPE,
                header("x-grpc-web"),
                header("x-user-agent"),
                header("grpc-timeout"),
            ])
            .expose_headers([
                header("grpc-status"),
                header("grpc-message"),
                header("grpc-status-details-bin"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// The health service name that says whether the standby takes reads:
/// SERVING while it does, NOT_SERVING while it does not (down, lagging, or
/// its lag not known yet; reads go to the primary then and the server's own
/// health is unaffected). Unknown to the health service without a standby.
pub const STANDBY_HEALTH_SERVICE: &str = "diagd.standby";

/// Checks the standby every second until `shutdown` (reads follow each
/// check) and reports it as [`STANDBY_HEALTH_SERVICE`].
async fn watch_standby(store: Store, reporter: HealthReporter, shutdown: CancellationToken) {
    let mut last = None;
    let mut check = crate::store::StandbyCheck::default();
    loop {
        store.check_standby(&mut check).await;
        let status = match store.standby_status() {
            Some(s) if s.state == crate::store::StandbyState::Streaming => ServingStatus::Serving,
            _ => ServingStatus::NotServing,
        };
        if last != Some(status) {
            reporter
                .set_service_status(STANDBY_HEALTH_SERVICE, status)
                .await;
            last = Some(status);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Keeps grpc.health.v1 SERVING while the database answers and NOT_SERVING
/// while it does not, for the whole server ("") and for the service.
async fn watch_database_health(
    store: Store,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    const SERVICE: &str = "diagnostics.v1.DiagnosticsService";
    let mut last = None;
    loop {
        let status =
            match tokio::time::timeout(interval.max(Duration::from_secs(1)), store.ping()).await {
                Ok(Ok(())) => ServingStatus::Serving,
                Ok(Err(e)) => {
                    if last != Some(ServingStatus::NotServing) {
                        tracing::warn!(error = %e, "database check failed: health is NOT_SERVING");
                    }
                    ServingStatus::NotServing
                }
                Err(_) => {
                    if last != Some(ServingStatus::NotServing) {
                        tracing::warn!("database check timed out: health is NOT_SERVING");
                    }
                    ServingStatus::NotServing
                }
            };
        if last != Some(status) {
            if last.is_some() && status == ServingStatus::Serving {
                tracing::info!("database answers again: health is SERVING");
            }
            reporter.set_service_status("", status).await;
            reporter.set_service_status(SERVICE, status).await;
            last = Some(status);
        }
        tokio::select! {
            () = shutdown.cancelled() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                reporter.set_service_status(SERVICE, ServingStatus::NotServing).await;
                return;
            }
            () = tokio::time::sleep(interval) => {}
        }
    }
}
