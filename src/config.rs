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

    /// Maximum number of database connections.
    #[arg(long, env = "DIAGD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: usize,

    /// Seconds to wait for a database connection before answering UNAVAILABLE.
    #[arg(long, env = "DIAGD_DB_TIMEOUT_SECS", default_value_t = 5)]
    pub db_timeout_secs: u64,
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
            acquire_timeout: Duration::from_secs(self.db_timeout_secs.max(1)),
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

    /// Open SearchLogs and ExportLogs streams at once; more get
    /// RESOURCE_EXHAUSTED (live tails have --max-subscribers, debug-mode
    /// watches --max-debug-watchers).
    #[arg(long, env = "DIAGD_MAX_STREAMS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: u32,

    /// Open WatchDebugMode streams at once (one per training process that
    /// follows debug mode); more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DIAGD_MAX_DEBUG_WATCHERS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_debug_watchers: u32,

    /// Seconds a request may take to be answered (a stream: to start),
    /// unless the client's own deadline is shorter.
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
    pub fn tokens(&self) -> Result<crate::auth::Tokens, String> {
        let tokens =
            crate::auth::Tokens::new(&self.ingest_tokens, &self.read_tokens, &self.admin_tokens);
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
    pub fn tls(&self) -> Result<Option<crate::tls::ServerTls>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                crate::tls::ServerTls::load(cert, key, self.tls_client_ca.as_deref()).map(Some)
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

    /// The effective settings as JSON for diagnostic reports, with the
    /// database password redacted.
    pub fn effective_configuration(&self, log_filter: &str) -> serde_json::Value {
        let database = match &self.database.database_url {
            Some(url) => serde_json::json!({ "mode": "external", "url": redact_url_password(url) }),
            None => serde_json::json!({ "mode": "embedded", "data_dir": self.database.data_dir() }),
        };
        serde_json::json!({
            "listen": self.listen.to_string(),
            "database_connection": database,
            "db_max_connections": self.database.db_max_connections,
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
            "heartbeat_secs": self.heartbeat_secs,
            "extra_scrub_keys": self.scrub_keys,
            "max_concurrent_ingest": self.max_concurrent_ingest,
            "max_streams": self.max_streams,
            "max_debug_watchers": self.max_debug_watchers,
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

/// `url` with the password (in `user:password@` or `password=`) replaced.
pub fn redact_url_password(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let start = scheme_end + 3 + colon + 1;
            let end = scheme_end + 3 + at;
            out.replace_range(start..end, "[redacted]");
        }
    }
    if let Some(position) = out.find("password=") {
        let start = position + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url_password;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url_password("postgres://diagd:s3cr:et@db:5432/diagd"),
            "postgres://diagd:[redacted]@db:5432/diagd"
        );
        assert_eq!(
            redact_url_password("postgres://db/diagd?user=a&password=hunter2&sslmode=require"),
            "postgres://db/diagd?user=a&password=[redacted]&sslmode=require"
        );
        assert_eq!(
            redact_url_password("postgres://db/diagd"),
            "postgres://db/diagd"
        );
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
