//! The `diagd` command: `diagd serve` runs the service, `diagd migrate`
//! applies the schema.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use diagd::{
    api::ApiSettings,
    config::{DatabaseArgs, LogArgs, ServeArgs},
    server::{self, Database, ServerError, ServerOptions},
    workers::debug_mode::LogControl,
    workers::tail::TailOptions,
};

/// diagd: diagnostics for machine-learning training fleets, over gRPC.
#[derive(Parser)]
#[command(name = "diagd", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
    /// diagd's own logging.
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC service (migrates the database first). Without
    /// DATABASE_URL it starts its own embedded PostgreSQL.
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// List logs, newest first, under a stats header (filters: --severity,
    /// --type, --since, --until, --host, --run-id, --component).
    Logs(diagd::cli::logs::LogsArgs),
    /// Show one log in full: stack trace, system state, context, recent
    /// actions and what to try.
    Get(diagd::cli::logs::GetArgs),
    /// Search messages, stack traces and context values; matches highlighted.
    Search(diagd::cli::logs::SearchArgs),
    /// Follow new logs live (Ctrl-C to stop).
    Tail(diagd::cli::tail::TailArgs),
    /// Counts by severity and type.
    Stats(diagd::cli::logs::StatsArgs),
    /// Error groups: status, count, 24-hour trend, last seen, title and
    /// culprit (filters: --status, --severity, --type, --text, --sort).
    Groups(diagd::cli::groups::GroupsArgs),
    /// One error group: show, resolve, ignore, reopen, merge, split, note.
    Group(diagd::cli::groups::GroupArgs),
    /// Training runs: state (alive, stuck, lost, finished, failed), members,
    /// last step and heartbeat, and who is behind (--watch follows changes).
    Runs(diagd::cli::runs::RunsArgs),
    /// One training run: every member, its error groups, its recent actions.
    Run(diagd::cli::runs::RunArgs),
    /// Alert rules and their alerts: rules, add, rm, test, deliveries.
    Alerts(diagd::cli::alerts::AlertsArgs),
    /// Generate, list, show, download or delete diagnostic reports.
    Report(diagd::cli::report::ReportArgs),
    /// Export logs from a running diagd into a timestamped JSON/NDJSON file.
    Export(diagd::cli::export::ExportArgs),
    /// Delete logs (all, older than an age, or of some severities); asks
    /// first on a terminal, needs --yes elsewhere.
    Clear(diagd::cli::admin::ClearArgs),
    /// Show or switch debug mode: diagd debug [on [--for 30m]|off|status].
    Debug(diagd::cli::admin::DebugArgs),
    /// Report one error from flags or a JSON file (for scripts and wrappers).
    Push(diagd::cli::push::PushArgs),
    /// Measure ingest, search and live tail on this machine (starts its own
    /// PostgreSQL unless DATABASE_URL is set) and print the figures.
    #[cfg(feature = "bench")]
    Bench(diagd::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let client_command = match cli.command {
        Command::Serve(_) | Command::Migrate(_) => false,
        #[cfg(feature = "bench")]
        Command::Bench(_) => false,
        _ => true,
    };
    if client_command {
        // Client commands end quietly when their reader goes away
        // (`diagd logs | head`), like other command-line tools, instead of
        // panicking on a broken pipe: SIGPIPE kills them again, but only for
        // this thread, which writes standard output. The runtime's threads
        // write the sockets, and a socket the server closed must be an error
        // there, not a silent death by signal (writev sends SIGPIPE).
        // SAFETY: restoring the default disposition of one signal at start-up,
        // before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || {
            if client_command {
                block_sigpipe_in_this_thread();
            }
        })
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprintln!("diagd: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps SIGPIPE pending instead of delivered on the calling thread, so that
/// a write to a closed socket there fails with EPIPE.
fn block_sigpipe_in_this_thread() {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset, and a mask change
    // that concerns only the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

async fn run(cli: Cli) -> ExitCode {
    let filter_handle = match diagd::server::telemetry::init(cli.log.log_format, &cli.log.log_level)
    {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("diagd: {e}");
            return ExitCode::from(2);
        }
    };
    let log_control = LogControl {
        handle: filter_handle,
        base: cli.log.log_level.clone(),
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args, log_control).await,
        Command::Migrate(args) => migrate(args).await,
        #[cfg(feature = "bench")]
        Command::Bench(args) => {
            return match diagd::bench::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("diagd bench: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Logs(args) => return client_outcome("logs", diagd::cli::logs::logs(args).await),
        Command::Get(args) => return client_outcome("get", diagd::cli::logs::get(args).await),
        Command::Search(args) => {
            return client_outcome("search", diagd::cli::logs::search(args).await);
        }
        Command::Tail(args) => return client_outcome("tail", diagd::cli::tail::tail(args).await),
        Command::Stats(args) => {
            return client_outcome("stats", diagd::cli::logs::stats(args).await);
        }
        Command::Groups(args) => {
            return client_outcome("groups", diagd::cli::groups::groups(args).await);
        }
        Command::Group(args) => {
            return client_outcome("group", diagd::cli::groups::group(args).await);
        }
        Command::Runs(args) => {
            return client_outcome("runs", diagd::cli::runs::runs(args).await);
        }
        Command::Run(args) => {
            return client_outcome("run", diagd::cli::runs::run(args).await);
        }
        Command::Alerts(args) => {
            return client_outcome("alerts", diagd::cli::alerts::alerts(args).await);
        }
        Command::Report(args) => {
            return client_outcome("report", diagd::cli::report::run(args).await);
        }
        Command::Clear(args) => {
            return client_outcome("clear", diagd::cli::admin::clear(args).await);
        }
        Command::Debug(args) => {
            return client_outcome("debug", diagd::cli::admin::debug(args).await);
        }
        Command::Push(args) => return client_outcome("push", diagd::cli::push::push(args).await),
        Command::Export(args) => {
            return match diagd::cli::export::run(args).await {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("diagd export: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("diagd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a client command; its error on stderr.
fn client_outcome(command: &str, outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            anstream::eprintln!("diagd {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `diagd serve`.
async fn serve(args: ServeArgs, log_control: LogControl) -> Result<(), ServerError> {
    let config_error = |e: String| ServerError::Store(diagd::store::StoreError::Config(e));
    let tokens = args.tokens().map_err(config_error)?;
    let tls = args.tls().map_err(config_error)?;
    let client_certificates = tls
        .as_ref()
        .is_some_and(|tls| tls.requires_client_certificates());
    if tokens.is_empty() && !client_certificates {
        if !args.listen.ip().is_loopback() && !args.allow_unauthenticated {
            return Err(config_error(format!(
                "refusing to listen on {} without access control: anyone who could reach it could read and \
                 clear logs. Configure tokens (--admin-tokens, --read-tokens, --ingest-tokens or --tokens-file) \
                 or client certificates (--tls-client-ca), listen on a loopback address, or pass \
                 --allow-unauthenticated",
                args.listen
            )));
        }
        tracing::warn!(
            listen = %args.listen,
            "no access tokens configured: every client that can reach diagd may call every RPC"
        );
    }
    if tls.is_none() && !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "serving without TLS on a non-loopback address: logs and tokens cross the network in clear text \
             (--tls-cert/--tls-key)"
        );
    }
    if args.max_streams >= args.database.db_read_connections {
        return Err(config_error(format!(
            "--max-streams ({}) must be below --db-read-connections ({}): each open search or export \
             holds a read connection, and listing, stats and reports need some left",
            args.max_streams, args.database.db_read_connections
        )));
    }
    let read_idle = diagd::store::PoolOptions::default().read_idle_timeout;
    if std::time::Duration::from_secs(args.stream_stall_secs) >= read_idle {
        return Err(config_error(format!(
            "--stream-stall-secs ({}) must be below {} s, after which PostgreSQL ends a read \
             transaction left idle",
            args.stream_stall_secs,
            read_idle.as_secs()
        )));
    }
    diagd::server::incoming::raise_open_file_limit();
    let database = Database::open(&args.database).await?;
    let served = async {
        let report = database.store.migrate().await?;
        tracing::info!(schema_version = report.schema_version, applied = ?report.applied, "database ready");
        if let Some(path) = &args.alert_rules {
            let (created, updated) = diagd::api::apply_rules_file(&database.store, path)
                .await
                .map_err(|e| ServerError::Store(diagd::store::StoreError::Config(e)))?;
            tracing::info!(file = %path.display(), created, updated, "alert rules applied");
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| ServerError::Store(diagd::store::StoreError::Config(format!("binding {}: {e}", args.listen))))?;
        tracing::info!(address = %listener.local_addr().unwrap_or(args.listen), tls = tls.is_some(), "diagd is listening (gRPC, reflection, health)");
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let mut disk_paths = vec![args.database.data_dir()];
        if let Ok(dir) = std::env::current_dir() {
            disk_paths.push(dir);
        }
        let options = ServerOptions {
            api: ApiSettings {
                actions_per_source: args.actions_per_source as usize,
                export_dir: args.export_dir(),
                configuration: args.effective_configuration(&log_control.base),
                disk_paths,
                scrubber: diagd::domain::scrub::Scrubber::new(&args.scrub_keys),
                grouping: diagd::domain::fingerprint::GroupingOptions {
                    in_app_include: args.in_app_include.clone(),
                    in_app_exclude: args.in_app_exclude.clone(),
                    in_app_frames: args.grouping_in_app_frames,
                },
                admission: diagd::api::admission::Limits::new(
                    args.max_concurrent_ingest as usize,
                    args.max_streams as usize,
                    args.max_debug_watchers as usize,
                ),
                stream_stall: std::time::Duration::from_secs(args.stream_stall_secs),
                max_message_bytes: args.max_message_bytes,
                otlp_min_severity: args.otlp_min_severity,
            },
            log_control: Some(log_control),
            tokens,
            request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
            metrics_listen: args.metrics_listen,
            otlp_http_listen: args.otlp_http_listen,
            cors_origins: args.cors_origins.clone(),
            alerts: diagd::workers::alerts::AlertOptions {
                timeout: std::time::Duration::from_secs(args.alert_timeout_secs),
                retry_for: std::time::Duration::from_secs(args.alert_retry_for_secs),
                max_pending: args.alert_max_pending,
            },
            connections: diagd::server::incoming::ConnectionLimits {
                max_connections: args.max_connections as usize,
                max_per_ip: args.max_connections_per_ip as usize,
                handshake_timeout: std::time::Duration::from_secs(args.handshake_timeout_secs),
            },
            keepalive: std::time::Duration::from_secs(args.keepalive_secs),
            retention: diagd::workers::retention::RetentionOptions {
                max_age: args.retention_max_age,
                max_rows: args.retention_max_rows,
                interval: std::time::Duration::from_secs(args.retention_interval_secs.max(1)),
                ..Default::default()
            },
            tail: TailOptions {
                max_subscribers: args.max_subscribers,
                buffer: args.subscriber_buffer.max(1),
                buffer_bytes: args.subscriber_buffer_bytes.max(1),
                replay_bytes: args.replay_bytes.max(1),
                total_bytes: args.live_tail_bytes.max(1),
                heartbeat: std::time::Duration::from_secs(args.heartbeat_secs.max(1)),
                ..TailOptions::default()
            },
            max_message_bytes: args.max_message_bytes,
            health_interval: std::time::Duration::from_secs(args.health_interval_secs.max(1)),
            shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace_secs),
            tls,
        };
        server::run(database.store.clone(), listener, options, shutdown).await
    }
    .await;
    database.close().await;
    tracing::info!("diagd stopped");
    served
}

/// `diagd migrate`.
async fn migrate(args: DatabaseArgs) -> Result<(), ServerError> {
    let database = Database::open(&args).await?;
    let result = database.store.migrate().await;
    database.close().await;
    let report = result?;
    if report.applied.is_empty() {
        println!("schema is up to date (version {})", report.schema_version);
    } else {
        println!(
            "applied migrations {:?}; schema version {}",
            report.applied, report.schema_version
        );
    }
    Ok(())
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received: shutting down"),
        _ = terminate.recv() => tracing::info!("SIGTERM received: shutting down"),
    }
    shutdown.cancel();
}
