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
