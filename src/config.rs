//! Settings from flags and environment variables (clap), shared by the
//! sub-commands that need them. Secrets (the database URL's password) are
//! never logged.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

/// Where the data lives.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/diagd. The database
    /// is created when missing. Unset: diagd runs its own embedded PostgreSQL
    /// cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory of the embedded PostgreSQL cluster (used when DATABASE_URL is
    /// unset). Default: /var/lib/diagd as root, else ~/.local/share/diagd.
    #[arg(long, env = "DIAGD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database connections for writes: ingest, admin, the live-tail hub
    /// and health. Readers never use these.
    #[arg(long, env = "DIAGD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: usize,

    /// Database connections for reads (listing, stats, search, export,
    /// reports), a pool of their own; must be above --max-streams so short
    /// reads always find one.
    #[arg(long, env = "DIAGD_DB_READ_CONNECTIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..))]
    pub db_read_connections: u32,

    /// Seconds one read statement may run before PostgreSQL cancels it.
    #[arg(long, env = "DIAGD_DB_READ_STATEMENT_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_read_statement_timeout_secs: u64,

    /// Seconds to wait for a database connection before answering UNAVAILABLE.
    #[arg(long, env = "DIAGD_DB_TIMEOUT_SECS", default_value_t = 5)]
    pub db_timeout_secs: u64,

    /// PostgreSQL URL of a streaming-replication standby of DATABASE_URL's
    /// server (same database name). Listing, getting, searching, stats,
    /// export, reports and groups read from it while it is at most
    /// --read-max-lag-secs behind; writes, LISTEN/NOTIFY, the live tail,
    /// runs and alerts stay on the primary. Unset: every read goes to the
    /// primary.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,

    /// Seconds the standby may be behind the primary and still take reads;
    /// further behind (or down), reads go to the primary until it catches up.
    #[arg(long, env = "DIAGD_READ_MAX_LAG_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub read_max_lag_secs: u64,
}

impl DatabaseArgs {
    /// The embedded cluster's directory: the flag, or the default for this user.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if nix::unistd::Uid::effective().is_root() {
            return PathBuf::from("/var/lib/diagd");
        }
        dirs::data_dir()
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("diagd-{}", nix::unistd::Uid::effective()))
            })
            .join("diagd")
    }

    /// The pool settings.
    pub fn pool_options(&self) -> crate::store::PoolOptions {
        crate::store::PoolOptions {
            max_connections: self.db_max_connections.max(1),
            read_connections: self.db_read_connections.max(2) as usize,
            acquire_timeout: Duration::from_secs(self.db_timeout_secs.max(1)),
            read_statement_timeout: Duration::from_secs(self.db_read_statement_timeout_secs),
            read_url: self.database_read_url.clone(),
            read_max_lag: Duration::from_secs(self.read_max_lag_secs),
            ..crate::store::PoolOptions::default()
        }
    }
}

/// `diagd serve` settings.
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Address to listen on for gRPC.
    #[arg(long, env = "DIAGD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Largest request message accepted, in bytes (an IngestLogs batch is one
    /// message).
    #[arg(long, env = "DIAGD_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Seconds between database health checks (grpc.health.v1).
    #[arg(long, env = "DIAGD_HEALTH_INTERVAL_SECS", default_value_t = 2)]
    pub health_interval_secs: u64,

    /// Seconds open streams get to finish after SIGINT/SIGTERM before diagd
    /// closes them.
    #[arg(long, env = "DIAGD_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Directory where ClearLogs writes its `export_first` exports.
    /// Default: <data-dir>/exports.
    #[arg(long, env = "DIAGD_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,

    /// Recorded user actions kept per source (host, run, component); older
    /// ones are deleted as new ones arrive.
    #[arg(long, env = "DIAGD_ACTIONS_PER_SOURCE", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub actions_per_source: u32,

    /// Most live-tail subscribers at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DIAGD_MAX_SUBSCRIBERS", default_value_t = 1000)]
    pub max_subscribers: usize,

    /// Logs queued per live-tail subscriber before they are dropped for it
    /// (it is then told how many).
    #[arg(long, env = "DIAGD_SUBSCRIBER_BUFFER", default_value_t = 1024)]
    pub subscriber_buffer: usize,

    /// Bytes of logs queued per live-tail subscriber before they are dropped
    /// for it (counted like --subscriber-buffer overflow); keep it above the
    /// largest log (about 1.4 MiB), which is otherwise never delivered live.
    #[arg(long, env = "DIAGD_SUBSCRIBER_BUFFER_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub subscriber_buffer_bytes: usize,

    /// Most bytes of logs a live tail's backfill or resume replays; older
    /// logs beyond it are left out and counted in a MISSED notice.
    #[arg(long, env = "DIAGD_REPLAY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub replay_bytes: usize,

    /// Most bytes of logs all live tails hold together (every subscriber's
    /// queue and every backfill or resume replay): beyond it logs are
    /// dropped for the subscribers that would queue them (DROPPED notice)
    /// and replays are cut (MISSED notice).
    #[arg(long, env = "DIAGD_LIVE_TAIL_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub live_tail_bytes: usize,

    /// Tokens of the `ingest` role (ReportError, IngestLogs, RecordAction,
    /// following debug mode), comma-separated.
    #[arg(
        long,
        env = "DIAGD_INGEST_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub ingest_tokens: Vec<String>,

    /// Tokens of the `read` role (list, get, search, tail, stats, reports,
    /// export), comma-separated.
    #[arg(
        long,
        env = "DIAGD_READ_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub read_tokens: Vec<String>,

    /// Tokens of the `admin` role (everything), comma-separated.
    #[arg(
        long,
        env = "DIAGD_ADMIN_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_tokens: Vec<String>,

    /// Ingest writes (ReportError, IngestLogs batches, RecordAction) in
    /// flight at once; more wait up to a second, then get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DIAGD_MAX_CONCURRENT_INGEST", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_ingest: u32,

    /// Open SearchLogs and ExportLogs streams at once (each holds a read
    /// connection); more get RESOURCE_EXHAUSTED. Must be below
    /// --db-read-connections (live tails have --max-subscribers, debug-mode
    /// watches --max-debug-watchers).
    #[arg(long, env = "DIAGD_MAX_STREAMS", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: u32,

    /// Seconds a search or export stream waits for its client to read
    /// before it is ended with DEADLINE_EXCEEDED (freeing its connection).
    #[arg(long, env = "DIAGD_STREAM_STALL_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_stall_secs: u64,

    /// Most client connections at once; more are closed as they arrive.
    #[arg(long, env = "DIAGD_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most client connections at once from one IP address; more are
    /// closed as they arrive.
    #[arg(long, env = "DIAGD_MAX_CONNECTIONS_PER_IP", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,

    /// Seconds a new connection has to start HTTP/2 (or TLS) before it is
    /// closed.
    #[arg(long, env = "DIAGD_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout_secs: u64,

    /// Seconds between HTTP/2 keepalive pings on idle connections; a peer
    /// that does not answer within 20 s is disconnected.
    #[arg(long, env = "DIAGD_KEEPALIVE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keepalive_secs: u64,

    /// Open WatchDebugMode streams at once (one per training process that
    /// follows debug mode); more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DIAGD_MAX_DEBUG_WATCHERS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_debug_watchers: u32,

    /// Address to serve diagd's own metrics on, for Prometheus (`GET
    /// /metrics`, OpenMetrics text, no authentication: bind it where only the
    /// scraper reaches). Off when unset.
    #[arg(long, env = "DIAGD_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Address to serve OTLP/HTTP logs on (`POST /v1/logs`, protobuf or
    /// JSON, gzip or not; the standard port is 4318). OTLP/gRPC is always
    /// served on --listen. Same tokens and TLS as the gRPC port. Off when
    /// unset.
    #[arg(long, env = "DIAGD_OTLP_HTTP_LISTEN")]
    pub otlp_http_listen: Option<std::net::SocketAddr>,

    /// An origin (`https://app.example.com`, scheme, host and port only) whose
    /// pages may call diagd over gRPC-Web and embed diagd's page in a frame,
    /// e.g. a desktop shell. Repeat or separate with commas for several. Off
    /// by default: only diagd's own page (same origin) calls it.
    #[arg(long = "cors-origin", env = "DIAGD_CORS_ORIGIN", value_delimiter = ',',
          value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// OTLP records are stored from this severity number on while debug
    /// mode is off (13: WARN; 17: ERROR; 9: INFO). Below it, and without a
    /// severity, they are stored as LOW only while debug mode is on.
    #[arg(long, env = "DIAGD_OTLP_MIN_SEVERITY", default_value_t = 13,
          value_parser = clap::value_parser!(i32).range(1..=24))]
    pub otlp_min_severity: i32,

    /// A JSON file of alert rules applied at start-up: `{"rules": [...]}`
    /// with each rule as CreateAlertRule takes it (protobuf JSON). A rule
    /// replaces the stored rule of its name or is created; others are left
    /// alone. An invalid file stops diagd from starting.
    #[arg(long, env = "DIAGD_ALERT_RULES")]
    pub alert_rules: Option<std::path::PathBuf>,

    /// Seconds an alert receiver (webhook) gets to answer one request.
    #[arg(long, env = "DIAGD_ALERT_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub alert_timeout_secs: u64,

    /// Seconds an alert's delivery is retried (exponential backoff from
    /// 1 s to 5 min, on no answer, 408, 429 and 5xx) before it is marked
    /// failed.
    #[arg(long, env = "DIAGD_ALERT_RETRY_FOR_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub alert_retry_for_secs: u64,

    /// Alerts of one rule waiting for delivery at most (each a few KiB);
    /// beyond, new ones are held back (counted) until there is room.
    #[arg(long, env = "DIAGD_ALERT_MAX_PENDING", default_value_t = 10_000,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub alert_max_pending: i64,

    /// Seconds a unary request may take to be answered (a server stream: to
    /// start), unless the client's own deadline is shorter. Client streams
    /// (IngestLogs) are never cut by it.
    #[arg(long, env = "DIAGD_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// Retention: delete logs older than this age (e.g. 30d, 12h, 2w). Off
    /// when unset.
    #[arg(long, env = "DIAGD_RETENTION_MAX_AGE", value_parser = parse_age)]
    pub retention_max_age: Option<chrono::TimeDelta>,

    /// Retention: keep at most this many logs, deleting the oldest. Off when
    /// unset.
    #[arg(long, env = "DIAGD_RETENTION_MAX_ROWS")]
    pub retention_max_rows: Option<u64>,

    /// Retention: seconds between runs.
    #[arg(long, env = "DIAGD_RETENTION_INTERVAL_SECS", default_value_t = 60)]
    pub retention_interval_secs: u64,

    /// More keys whose values are scrubbed before storage, beyond the
    /// built-in ones (password, token, api_key, cookie, …), comma-separated.
    #[arg(long, env = "DIAGD_SCRUB_KEYS", value_delimiter = ',')]
    pub scrub_keys: Vec<String>,

    /// Grouping: module prefixes always counted as the user's own code
    /// (e.g. your package installed into site-packages), comma-separated.
    #[arg(long, env = "DIAGD_IN_APP_INCLUDE", value_delimiter = ',')]
    pub in_app_include: Vec<String>,

    /// Grouping: module prefixes never counted as the user's own code,
    /// comma-separated.
    #[arg(long, env = "DIAGD_IN_APP_EXCLUDE", value_delimiter = ',')]
    pub in_app_exclude: Vec<String>,

    /// Grouping: how many of a traceback's in-app frames count, innermost
    /// first (0 = all). Changing it (or the prefixes) gives new logs new
    /// fingerprints; stored logs keep their groups.
    #[arg(long, env = "DIAGD_GROUPING_IN_APP_FRAMES", default_value_t = 1)]
    pub grouping_in_app_frames: usize,

    /// A file of `<role> <token>` lines (roles: ingest, read, admin).
    #[arg(long, env = "DIAGD_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Serve without tokens on a non-loopback address (by default diagd
    /// refuses: anyone who can reach it could read and clear logs).
    #[arg(long, env = "DIAGD_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// TLS: the server's certificate chain (PEM). With --tls-key, diagd
    /// serves gRPC over TLS only.
    #[arg(long, env = "DIAGD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS: the private key of --tls-cert (PEM).
    #[arg(long, env = "DIAGD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// TLS: require client certificates signed by this authority (PEM).
    /// Clients without one cannot connect; this counts as access control for
    /// the loopback rule.
    #[arg(long, env = "DIAGD_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Seconds of silence after which a live tail gets a heartbeat.
    #[arg(long, env = "DIAGD_HEARTBEAT_SECS", default_value_t = 15)]
    pub heartbeat_secs: u64,
}

impl ServeArgs {
    /// The configured tokens (flags, environment and file).
    pub fn tokens(&self) -> Result<crate::server::auth::Tokens, String> {
        let tokens = crate::server::auth::Tokens::new(
            &self.ingest_tokens,
            &self.read_tokens,
            &self.admin_tokens,
        );
        match &self.tokens_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading tokens file {}: {e}", path.display()))?;
                tokens
                    .with_file(&text)
                    .map_err(|e| format!("tokens file {}: {e}", path.display()))
            }
            None => Ok(tokens),
        }
    }

    /// The TLS settings, read from the PEM files; `None` without --tls-cert.
    pub fn tls(&self) -> Result<Option<crate::server::tls::ServerTls>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                crate::server::tls::ServerTls::load(cert, key, self.tls_client_ca.as_deref())
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Where `export_first` exports go.
    pub fn export_dir(&self) -> PathBuf {
        self.export_dir
            .clone()
            .unwrap_or_else(|| self.database.data_dir().join("exports"))
    }

    /// The effective settings as JSON for diagnostic reports; the database
    /// connection string is described without its password.
    pub fn effective_configuration(&self, log_filter: &str) -> serde_json::Value {
        let database = match &self.database.database_url {
            Some(url) => {
                serde_json::json!({ "mode": "external", "url": describe_database_url(url) })
            }
            None => serde_json::json!({ "mode": "embedded", "data_dir": self.database.data_dir() }),
        };
        let standby = self.database.database_read_url.as_deref().map(|url| {
            serde_json::json!({
                "url": describe_database_url(url),
                "read_max_lag_secs": self.database.read_max_lag_secs,
            })
        });
        serde_json::json!({
            "listen": self.listen.to_string(),
            "database_connection": database,
            "standby": standby,
            "db_max_connections": self.database.db_max_connections,
            "db_read_connections": self.database.db_read_connections,
            "db_read_statement_timeout_secs": self.database.db_read_statement_timeout_secs,
            "stream_stall_secs": self.stream_stall_secs,
            "max_connections": self.max_connections,
            "max_connections_per_ip": self.max_connections_per_ip,
            "handshake_timeout_secs": self.handshake_timeout_secs,
            "keepalive_secs": self.keepalive_secs,
            "db_timeout_secs": self.database.db_timeout_secs,
            "max_message_bytes": self.max_message_bytes,
            "health_interval_secs": self.health_interval_secs,
            "shutdown_grace_secs": self.shutdown_grace_secs,
            "export_dir": self.export_dir(),
            "actions_per_source": self.actions_per_source,
            "log_filter": log_filter,
            "max_subscribers": self.max_subscribers,
            "subscriber_buffer": self.subscriber_buffer,
            "subscriber_buffer_bytes": self.subscriber_buffer_bytes,
            "replay_bytes": self.replay_bytes,
            "live_tail_bytes": self.live_tail_bytes,
            "heartbeat_secs": self.heartbeat_secs,
            "extra_scrub_keys": self.scrub_keys,
            "grouping": {
                "in_app_include": self.in_app_include,
                "in_app_exclude": self.in_app_exclude,
                "in_app_frames": self.grouping_in_app_frames,
            },
            "max_concurrent_ingest": self.max_concurrent_ingest,
            "max_streams": self.max_streams,
            "max_debug_watchers": self.max_debug_watchers,
            "metrics_listen": self.metrics_listen.map(|a| a.to_string()),
            "otlp_http_listen": self.otlp_http_listen.map(|a| a.to_string()),
            "cors_origins": self.cors_origins,
            "otlp_min_severity": self.otlp_min_severity,
            "alerts": {
                "rules_file": self.alert_rules.as_ref().map(|p| p.display().to_string()),
                "timeout_secs": self.alert_timeout_secs,
                "retry_for_secs": self.alert_retry_for_secs,
                "max_pending": self.alert_max_pending,
            },
            "request_timeout_secs": self.request_timeout_secs,
            "retention": {
                "max_age_secs": self.retention_max_age.map(|a| a.num_seconds()),
                "max_rows": self.retention_max_rows,
                "interval_secs": self.retention_interval_secs,
            },
            "access_control": {
                "tokens": {
                    "ingest": self.ingest_tokens.len(),
                    "read": self.read_tokens.len(),
                    "admin": self.admin_tokens.len(),
                },
                "tokens_file": self.tokens_file,
                "allow_unauthenticated": self.allow_unauthenticated,
            },
            "tls": {
                "enabled": self.tls_cert.is_some(),
                "cert": self.tls_cert,
                "client_certificates_required": self.tls_client_ca.is_some(),
            },
            "features": {
                "ingest": true, "query": true, "stats": true, "reports": true, "export": true,
                "clear": true, "debug_mode": true, "recent_actions": true,
                "search": true, "live_tail": true,
            },
        })
    }
}

/// An age such as `90s`, `30m`, `12h`, `30d` or `2w`.
pub fn parse_age(text: &str) -> Result<chrono::TimeDelta, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected an age like 90s, 30m, 12h, 30d or 2w"))?;
    let age = match unit {
        "s" => chrono::TimeDelta::try_seconds(n),
        "m" => chrono::TimeDelta::try_minutes(n),
        "h" => chrono::TimeDelta::try_hours(n),
        "d" => chrono::TimeDelta::try_days(n),
        "w" => chrono::TimeDelta::try_weeks(n),
        _ => None,
    };
    match age {
        Some(age) if n > 0 => Ok(age),
        _ => Err(format!(
            "{text:?}: expected a positive age like 90s, 30m, 12h, 30d or 2w"
        )),
    }
}

/// What a database connection string the parser refuses is shown as.
pub const UNPARSEABLE_DATABASE_URL: &str = "[unparseable, redacted]";

/// Characters kept as they are in the parts of a described database URL.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The database connection string `url` (URL or key/value form) as shown in
/// diagnostic reports: parsed by tokio-postgres' own parser, as the store
/// does, and written back as a URL from its host(s), port(s), user,
/// database, host addresses, application name, SSL mode and options. The
/// password is never written; its place shows "[redacted]" when one is set.
/// A string the parser refuses shows as [`UNPARSEABLE_DATABASE_URL`].
pub fn describe_database_url(url: &str) -> String {
    use tokio_postgres::config::{Host, SslMode};
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return UNPARSEABLE_DATABASE_URL.to_string();
    };
    let encode =
        |part: &str| percent_encoding::utf8_percent_encode(part, URL_COMPONENT).to_string();
    let mut out = String::from("postgres://");
    let password = if config.get_password().is_some() {
        ":[redacted]"
    } else {
        ""
    };
    match config.get_user() {
        Some(user) => out.push_str(&format!("{}{password}@", encode(user))),
        None if !password.is_empty() => out.push_str(&format!("{password}@")),
        None => {}
    }
    let ports = config.get_ports();
    let port_of = |i: usize| {
        ports.get(i).or(if ports.len() == 1 {
            ports.first()
        } else {
            None
        })
    };
    let hosts = config.get_hosts();
    let authority: Vec<String> = if hosts.is_empty() {
        ports.iter().map(|p| format!(":{p}")).collect()
    } else {
        hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = match host {
                    Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                    Host::Tcp(name) => encode(name),
                    #[cfg(unix)]
                    Host::Unix(path) => encode(&path.to_string_lossy()),
                };
                match port_of(i) {
                    Some(port) => format!("{name}:{port}"),
                    None => name,
                }
            })
            .collect()
    };
    out.push_str(&authority.join(","));
    if let Some(dbname) = config.get_dbname() {
        out.push('/');
        out.push_str(&encode(dbname));
    }
    let mut query: Vec<String> = Vec::new();
    let addresses = config.get_hostaddrs();
    if !addresses.is_empty() {
        let addresses: Vec<String> = addresses.iter().map(|a| encode(&a.to_string())).collect();
        query.push(format!("hostaddr={}", addresses.join(",")));
    }
    if let Some(name) = config.get_application_name() {
        query.push(format!("application_name={}", encode(name)));
    }
    match config.get_ssl_mode() {
        SslMode::Prefer => {}
        SslMode::Disable => query.push("sslmode=disable".into()),
        SslMode::Require => query.push("sslmode=require".into()),
        other => query.push(format!(
            "sslmode={}",
            encode(&format!("{other:?}").to_lowercase())
        )),
    }
    if let Some(options) = config.get_options() {
        query.push(format!("options={}", encode(options)));
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{UNPARSEABLE_DATABASE_URL, describe_database_url};

    #[test]
    fn database_passwords_never_show() {
        for url in [
            "host=db.internal port=5433 user=ana password = PW_SECRET dbname=x",
            "postgres://ana@db/x?password=a&password=PW_SECRET",
            "postgres://ana:PW_SECRET@db/x",
            "postgres://ana@db/x?password=PW_SECRET",
            "host=db password='PW_SECRET",
        ] {
            let shown = describe_database_url(url);
            assert!(!shown.contains("PW_SECRET"), "{url} shows {shown}");
        }
    }

    #[test]
    fn database_urls_are_described_without_their_password() {
        for (url, shown) in [
            (
                "postgres://diagd:s3cr:et@db:5432/diagd",
                "postgres://diagd:[redacted]@db:5432/diagd",
            ),
            (
                "postgres://db/diagd?user=a&password=hunter2&sslmode=require",
                "postgres://a:[redacted]@db:5432/diagd?sslmode=require",
            ),
            // The URL form's default port is shown.
            ("postgres://db/diagd", "postgres://db:5432/diagd"),
            ("postgresql://ana@db", "postgres://ana@db:5432"),
            // libpq key/value form, spaces around `=` included.
            (
                "host=db.internal port=5433 user=ana password = PW dbname=x",
                "postgres://ana:[redacted]@db.internal:5433/x",
            ),
            (
                "host=db password='p w' dbname=x",
                "postgres://:[redacted]@db/x",
            ),
            // A repeated password parameter.
            (
                "postgres://ana@db/x?password=a&password=PW",
                "postgres://ana:[redacted]@db:5432/x",
            ),
            (
                "host=a,b port=1,2 dbname=x application_name='my app' options='-c search_path=s'",
                "postgres://a:1,b:2/x?application_name=my%20app&options=-c%20search_path%3Ds",
            ),
            (
                "postgres://[::1]:5432/x?hostaddr=127.0.0.1&sslmode=disable",
                "postgres://[::1]:5432/x?hostaddr=127.0.0.1&sslmode=disable",
            ),
            (
                "host=/var/run/postgresql dbname=x",
                "postgres://%2Fvar%2Frun%2Fpostgresql/x",
            ),
            // Strings the parser refuses show nothing of themselves.
            (
                "postgres://db/x?password=PW&bogus=1",
                UNPARSEABLE_DATABASE_URL,
            ),
            ("host=db password='PW", UNPARSEABLE_DATABASE_URL),
        ] {
            assert_eq!(describe_database_url(url), shown, "{url}");
        }
    }
}

/// How diagd writes its own logs.
#[derive(Args, Clone)]
pub struct LogArgs {
    /// Output format of diagd's own logs.
    #[arg(long, env = "DIAGD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "diagd=debug".
    #[arg(long, env = "DIAGD_LOG", default_value = "info", global = true)]
    pub log_level: String,
}

/// Output format of diagd's own logs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// A browser origin: `http` or `https`, a host, an optional port, nothing else.
fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| format!("{value:?}: an origin starts with http:// or https://"))?;
    // Browsers send origins in lower case and without a default port.
    let value = value.to_ascii_lowercase();
    let rest = rest.to_ascii_lowercase();
    let value = match (value.strip_suffix(":443"), value.strip_suffix(":80")) {
        (Some(v), _) if value.starts_with("https://") => v.to_string(),
        (_, Some(v)) if value.starts_with("http://") => v.to_string(),
        _ => value.clone(),
    };
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?}: an origin is scheme://host[:port], without a path, query or wildcard"
        ))
    }
}
