//! The embedded default: a private PostgreSQL cluster that diagd initialises,
//! starts and stops itself when no `DATABASE_URL` is given, the way a
//! single-binary log server keeps its data locally. The tests use the same
//! module for their throwaway cluster.
//!
//! Layout of the base directory:
//! - `pgdata/`        the cluster (`initdb` output), owned by the user postgres runs as
//! - `password`       the generated password of the `diagd` superuser (mode 0600)
//! - `postgres.log`   the server's log
//! - `diagd.lock`     held while a diagd owns the cluster, so two never share one
//!
//! An exclusively owned cluster is supervised ([`SupervisedPostgres`]): when
//! its postmaster dies (the OOM killer's SIGKILL, a crash) diagd starts it
//! again on the same port — PostgreSQL runs crash recovery — and the
//! connection pool replaces the broken connections; never once diagd stops
//! the cluster itself.
//!
//! `initdb` and `postgres` refuse to run as root: when diagd runs as root they
//! run as the `postgres` system user (created by Debian's `postgresql`
//! package), which then owns the base directory.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    net::TcpListener,
    os::unix::{
        fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Arc, Mutex},
    time::Duration,
};

use nix::unistd::{Gid, Uid, User, chown};
use tokio_util::sync::CancellationToken;

/// Name of the superuser created in the cluster.
const SUPERUSER: &str = "diagd";

/// What went wrong while preparing, starting or stopping the cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No PostgreSQL server binaries on this machine.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found \
         (looked in $DIAGD_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin and PATH). \
         Install them with `sudo apt-get install -y postgresql` (Debian/Ubuntu), \
         `sudo dnf install postgresql-server` (Fedora) or `brew install postgresql` (macOS), \
         or set DATABASE_URL to use an existing PostgreSQL server"
    )]
    BinariesNotFound,
    /// Running as root but there is no unprivileged user to run PostgreSQL as.
    #[error(
        "diagd runs as root, and PostgreSQL refuses to: it runs the embedded cluster as the `postgres` \
         system user, which does not exist here. Install the server package (`apt-get install -y postgresql`) \
         which creates it, or run diagd as an ordinary user"
    )]
    NoUnprivilegedUser,
    /// The data directory cannot be reached by the user PostgreSQL runs as.
    #[error(
        "the embedded PostgreSQL runs as user `{user}`, who cannot enter {dir}; \
         choose a data directory it can reach with --data-dir (e.g. /var/lib/diagd)"
    )]
    DirectoryNotReachable {
        /// The user PostgreSQL runs as.
        user: String,
        /// The directory that user cannot traverse.
        dir: PathBuf,
    },
    /// Another diagd already owns this data directory.
    #[error("another diagd is using the data directory {0}; stop it or choose another --data-dir")]
    InUse(PathBuf),
    /// A PostgreSQL tool failed.
    #[error("{tool} failed: {detail}")]
    Tool {
        /// The tool, e.g. "initdb".
        tool: String,
        /// Its output, or why it could not be run.
        detail: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What diagd was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// Who keeps the cluster running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// This value owns the cluster: the data directory stays locked while it
    /// lives and the cluster stops with [`EmbeddedPostgres::stop`] or on drop.
    /// A cluster left running by a diagd that was killed is adopted.
    Exclusive,
    /// The cluster is shared by several processes (test binaries) and left
    /// running; it is tuned for speed over durability (fsync off).
    #[cfg(any(test, feature = "testing"))]
    SharedForTests,
}

impl Ownership {
    /// Whether this is the throwaway cluster shared by test binaries.
    fn shared_for_tests(self) -> bool {
        #[cfg(any(test, feature = "testing"))]
        {
            self == Ownership::SharedForTests
        }
        #[cfg(not(any(test, feature = "testing")))]
        {
            false
        }
    }
}

/// A running private PostgreSQL cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    /// Directory holding the PostgreSQL binaries.
    bindir: PathBuf,
    /// The cluster's data directory (`<base>/pgdata`).
    pgdata: PathBuf,
    /// Loopback TCP port the server listens on.
    port: u16,
    /// Password of the `diagd` superuser.
    password: String,
    /// The user PostgreSQL runs as when diagd is root.
    run_as: Option<User>,
    /// Whether dropping this value stops the cluster.
    ownership: Ownership,
    /// The lock on the data directory, held while an exclusive owner lives;
    /// `None` once stopped.
    lock: Mutex<Option<File>>,
}

impl EmbeddedPostgres {
    /// Initialises the cluster in `base_dir` when it does not exist yet and
    /// starts it on a free loopback port, or adopts it when it already runs.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn start(base_dir: &Path, ownership: Ownership) -> Result<Self, EmbeddedError> {
        let bindir = find_bindir().ok_or(EmbeddedError::BinariesNotFound)?;
        let run_as = unprivileged_user()?;
        let base_dir = prepare_base_dir(base_dir, run_as.as_ref())?;

        let lock = lock_base_dir(&base_dir, ownership)?;
        let password = read_or_create_password(&base_dir)?;
        let mut cluster = EmbeddedPostgres {
            bindir,
            pgdata: base_dir.join("pgdata"),
            port: 0,
            password,
            run_as,
            ownership,
            lock: Mutex::new(None),
        };
        if !cluster.pgdata.join("PG_VERSION").exists() {
            cluster.initdb(&base_dir)?;
        }
        cluster.port = match cluster.running_port() {
            Some(port) => {
                tracing::info!(port, pgdata = %cluster.pgdata.display(), "adopting the embedded PostgreSQL that is already running");
                port
            }
            None => cluster.start_server(&base_dir)?,
        };
        if ownership.shared_for_tests() {
            drop(lock);
        } else {
            *cluster.lock.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(lock);
        }
        Ok(cluster)
    }

    /// The URL of database `dbname` in this cluster, with credentials.
    pub fn database_url(&self, dbname: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{dbname}",
            self.password, self.port
        )
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Stops the server (fast shutdown: open sessions are ended, committed
    /// data is safe) and releases the data directory. Stopping twice is a
    /// no-op. Blocking.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        let mut lock = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if lock.is_none() && self.ownership == Ownership::Exclusive {
            return Ok(());
        }
        let pgdata = self.pgdata.display().to_string();
        let result = self.run_tool(
            "pg_ctl",
            &["-D", &pgdata, "-m", "fast", "-w", "-t", "60", "stop"],
        );
        *lock = None;
        result.map(|_| ())
    }

    /// Runs `initdb` with a generated superuser password, then writes the
    /// settings every start uses.
    fn initdb(&self, base_dir: &Path) -> Result<(), EmbeddedError> {
        tracing::info!(pgdata = %self.pgdata.display(), "initialising the embedded PostgreSQL cluster");
        let pwfile = base_dir.join("initdb-password");
        write_private_file(&pwfile, &self.password, self.run_as.as_ref())?;
        let pgdata = self.pgdata.display().to_string();
        let pwfile_arg = format!("--pwfile={}", pwfile.display());
        let mut args = vec![
            "-D",
            &pgdata,
            "-U",
            SUPERUSER,
            &pwfile_arg,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ];
        if self.ownership.shared_for_tests() {
            args.push("--no-sync");
        }
        let result = self.run_tool("initdb", &args);
        let _ = fs::remove_file(&pwfile);
        result?;
        let mut settings = String::from(
            "\n# Written by diagd: loopback TCP only, no Unix socket.\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\n",
        );
        if self.ownership.shared_for_tests() {
            settings.push_str(
                "# Throwaway test cluster: speed over durability.\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n",
            );
        }
        let conf = self.pgdata.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(io_error(format!("writing {}", conf.display())))
    }

    /// Starts the server and waits until it accepts connections: on the port
    /// it had last time when that is free (so clients keep their URL across
    /// restarts), else on a free loopback port; retries with another port if
    /// the chosen one was taken.
    fn start_server(&self, base_dir: &Path) -> Result<u16, EmbeddedError> {
        let pgdata = self.pgdata.display().to_string();
        let logfile = base_dir.join("postgres.log").display().to_string();
        let port_file = base_dir.join("port");
        let previous: Option<u16> = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let mut last_error = None;
        for attempt in 0..4 {
            let port = match previous {
                Some(port) if attempt == 0 && TcpListener::bind(("127.0.0.1", port)).is_ok() => {
                    port
                }
                _ => free_port().map_err(io_error("choosing a free port"))?,
            };
            match self.pg_ctl_start(port, 60) {
                Ok(()) => {
                    tracing::info!(port, pgdata = %pgdata, "embedded PostgreSQL started");
                    let _ = fs::write(&port_file, port.to_string());
                    return Ok(port);
                }
                Err(e) => last_error = Some(e),
            }
        }
        let log_tail = fs::read_to_string(&logfile)
            .map(|log| {
                log.lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        Err(match last_error {
            Some(EmbeddedError::Tool { tool, detail }) => EmbeddedError::Tool {
                tool,
                detail: format!("{detail}\nlast lines of {logfile}:\n{log_tail}"),
            },
            Some(other) => other,
            None => unreachable!("three attempts were made"),
        })
    }

    /// `pg_ctl start` on `port`, waiting at most `wait_secs` until the
    /// server accepts connections.
    fn pg_ctl_start(&self, port: u16, wait_secs: u32) -> Result<(), EmbeddedError> {
        let pgdata = self.pgdata.display().to_string();
        let base_dir = self.pgdata.parent().unwrap_or(Path::new("/"));
        let logfile = base_dir.join("postgres.log").display().to_string();
        // Queries not bounded by time lock every daily partition of `logs`
        // and its indexes (about 15 locks a day): room for a few hundred
        // days per query (store/partitions.rs).
        let options = format!("-p {port} -c max_locks_per_transaction={MAX_LOCKS_PER_TRANSACTION}");
        let wait = wait_secs.to_string();
        self.run_tool(
            "pg_ctl",
            &[
                "-D", &pgdata, "-l", &logfile, "-o", &options, "-w", "-t", &wait, "start",
            ],
        )
        .map(|_| ())
    }

    /// Whether the postmaster named in `postmaster.pid` runs: that process
    /// exists, is not a zombie and is a `postgres`.
    fn postmaster(&self) -> Postmaster {
        let Some(pid) = fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()
            .and_then(|file| file.lines().next()?.trim().parse::<u32>().ok())
        else {
            return Postmaster::Gone { stale_pid: false };
        };
        let Ok(mut system) = sysinfo::System::new() else {
            // No process table to read: only whether the pid exists.
            return match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
                Err(nix::errno::Errno::ESRCH) => Postmaster::Gone { stale_pid: false },
                _ => Postmaster::Running,
            };
        };
        let pid = sysinfo::Pid::from_u32(pid);
        system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
        match system.process(pid) {
            None => Postmaster::Gone { stale_pid: false },
            Some(process)
                if process.status() == sysinfo::ProcessStatus::Zombie
                    || !process.name().to_string_lossy().starts_with("postgres") =>
            {
                // PostgreSQL would take the pid for a live postmaster's.
                Postmaster::Gone { stale_pid: true }
            }
            Some(_) => Postmaster::Running,
        }
    }

    /// One supervision check: when the postmaster died, starts the server
    /// again on the same port (the pool's URL stays right), which runs crash
    /// recovery. Nothing once the cluster was stopped on purpose (or for a
    /// cluster this value does not own): [`stop`](Self::stop) and this take
    /// the same lock, so a stop never races a restart. `announce` logs the
    /// death at warn (once per outage). Blocking.
    pub fn restart_if_dead(&self, announce: bool) -> Result<Supervision, EmbeddedError> {
        let lock = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if lock.is_none() {
            return Ok(Supervision::Stopped);
        }
        let Postmaster::Gone { stale_pid } = self.postmaster() else {
            return Ok(Supervision::Running);
        };
        if announce {
            tracing::warn!(
                pgdata = %self.pgdata.display(),
                "the embedded PostgreSQL is not running (its postmaster died, e.g. killed by the OOM killer): restarting it"
            );
        }
        if stale_pid {
            // Its pid now names another process (or a zombie): PostgreSQL
            // would refuse to start over it.
            let _ = fs::remove_file(self.pgdata.join("postmaster.pid"));
        }
        // Orphaned server processes hold the old shared memory until they
        // notice the postmaster's death; until then the start fails, and is
        // tried again at the next check.
        self.pg_ctl_start(self.port, 30)?;
        Ok(Supervision::Restarted)
    }

    /// The port of a server already running on this data directory, if any
    /// (read from `postmaster.pid` once `pg_ctl status` confirms it runs).
    fn running_port(&self) -> Option<u16> {
        let pgdata = self.pgdata.display().to_string();
        self.run_tool("pg_ctl", &["-D", &pgdata, "status"]).ok()?;
        let pid_file = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// Runs one of the PostgreSQL tools, as the unprivileged user when diagd
    /// is root; fails with its output when it exits non-zero.
    fn run_tool(&self, tool: &str, args: &[&str]) -> Result<Output, EmbeddedError> {
        self.run_tool_with_env(tool, args, &[])
    }

    /// [`run_tool`](Self::run_tool) with more environment variables.
    fn run_tool_with_env(
        &self,
        tool: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Output, EmbeddedError> {
        let mut command = Command::new(self.bindir.join(tool));
        command
            .args(args)
            .envs(env.iter().copied())
            .env("LC_ALL", "C.UTF-8")
            .env_remove("PGDATA");
        if let Some(user) = &self.run_as {
            command
                .uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .env("HOME", &user.dir)
                .env("USER", &user.name)
                .current_dir(self.pgdata.parent().unwrap_or(Path::new("/")));
        }
        let output = command.output().map_err(|e| EmbeddedError::Tool {
            tool: tool.to_string(),
            detail: format!("could not run {}: {e}", self.bindir.join(tool).display()),
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(EmbeddedError::Tool {
                tool: tool.to_string(),
                detail: format!(
                    "{} {}\n{}{}",
                    output.status,
                    args.join(" "),
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl EmbeddedPostgres {
    /// Makes a streaming-replication standby of this cluster in `base_dir`
    /// with the same binaries (`pg_basebackup -R` over loopback, as the
    /// `diagd` superuser) and starts it on a free loopback port (again on
    /// the same port when started later from the same `base_dir` with
    /// [`EmbeddedPostgres::start`]). It runs with `hot_standby_feedback`, so
    /// long reads on it are not cancelled by the primary's clean-up.
    /// Blocking.
    pub fn start_standby(&self, base_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let base_dir = prepare_base_dir(base_dir, self.run_as.as_ref())?;
        let pgdata = base_dir.join("pgdata");
        let pgdata_arg = pgdata.display().to_string();
        let port = self.port.to_string();
        self.run_tool_with_env(
            "pg_basebackup",
            &[
                "-D",
                &pgdata_arg,
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                SUPERUSER,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            &[("PGPASSWORD", &self.password)],
        )?;
        // The standby has the primary's roles, so the primary's password.
        write_private_file(&base_dir.join("password"), &self.password, None)?;
        let conf = pgdata.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| {
                f.write_all(
                    b"\n# Written by diagd's tests: a hot standby.\nhot_standby_feedback = on\n",
                )
            })
            .map_err(io_error(format!("writing {}", conf.display())))?;
        EmbeddedPostgres::start(&base_dir, Ownership::Exclusive)
    }
}

/// `max_locks_per_transaction` of the embedded cluster (PostgreSQL's default
/// is 64); README "Retention and time partitions" asks the same of a server
/// at `DATABASE_URL`.
pub const MAX_LOCKS_PER_TRANSACTION: u32 = 1024;

/// What [`EmbeddedPostgres::restart_if_dead`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// The postmaster runs.
    Running,
    /// It had died and was started again.
    Restarted,
    /// The cluster was stopped on purpose (or is not this value's to keep
    /// running): supervision ends.
    Stopped,
}

/// The postmaster of a cluster, as `postmaster.pid` and the process table
/// tell.
enum Postmaster {
    /// It runs.
    Running,
    /// It is gone; `stale_pid`: the pid file names a process that is not it.
    Gone { stale_pid: bool },
}

/// How often a supervised cluster is checked.
pub const SUPERVISION_INTERVAL: Duration = Duration::from_secs(1);

/// An exclusively owned cluster kept running: a background task checks its
/// postmaster every [`SUPERVISION_INTERVAL`] and restarts it when it died,
/// until [`stop`](Self::stop) (or drop). Logs at warn when the postmaster
/// is found dead, at info when the server is back.
pub struct SupervisedPostgres {
    /// The cluster, shared with the task.
    cluster: Arc<EmbeddedPostgres>,
    /// Ends the task.
    stopping: CancellationToken,
    /// The task; `None` once stopped.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SupervisedPostgres {
    /// Starts supervising `cluster` (on the current tokio runtime).
    pub fn new(cluster: EmbeddedPostgres) -> SupervisedPostgres {
        let cluster = Arc::new(cluster);
        crate::metrics::METRICS.embedded_postgres(true);
        let stopping = CancellationToken::new();
        let task = tokio::spawn(supervise(cluster.clone(), stopping.clone()));
        SupervisedPostgres {
            cluster,
            stopping,
            task: Some(task),
        }
    }

    /// Ends supervision (waiting for a restart under way), then stops the
    /// cluster.
    pub async fn stop(mut self) -> Result<(), EmbeddedError> {
        self.stopping.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || cluster.stop())
            .await
            .map_err(|e| EmbeddedError::Tool {
                tool: "pg_ctl".into(),
                detail: format!("stopping task failed: {e}"),
            })?
    }
}

impl std::ops::Deref for SupervisedPostgres {
    type Target = EmbeddedPostgres;

    fn deref(&self) -> &EmbeddedPostgres {
        &self.cluster
    }
}

impl Drop for SupervisedPostgres {
    fn drop(&mut self) {
        self.stopping.cancel();
    }
}

/// The supervision loop of [`SupervisedPostgres`].
async fn supervise(cluster: Arc<EmbeddedPostgres>, stopping: CancellationToken) {
    let mut down = false;
    loop {
        tokio::select! {
            () = stopping.cancelled() => return,
            () = tokio::time::sleep(SUPERVISION_INTERVAL) => {}
        }
        let checked = tokio::task::spawn_blocking({
            let cluster = cluster.clone();
            move || cluster.restart_if_dead(!down)
        })
        .await;
        match checked {
            Ok(Ok(Supervision::Running)) => {
                crate::metrics::METRICS.embedded_postgres(true);
                down = false;
            }
            Ok(Ok(Supervision::Restarted)) => {
                crate::metrics::METRICS.embedded_postgres_restarts.inc();
                crate::metrics::METRICS.embedded_postgres(true);
                tracing::info!(
                    port = cluster.port,
                    "the embedded PostgreSQL is running again"
                );
                down = false;
            }
            Ok(Ok(Supervision::Stopped)) => return,
            Ok(Err(e)) => {
                crate::metrics::METRICS.embedded_postgres(false);
                if !down {
                    tracing::warn!(error = %e, "restarting the embedded PostgreSQL failed; trying again every second");
                }
                down = true;
            }
            Err(e) => tracing::warn!(error = %e, "checking the embedded PostgreSQL failed"),
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.ownership == Ownership::Exclusive
            && let Err(e) = self.stop()
        {
            tracing::warn!(error = %e, "stopping the embedded PostgreSQL failed");
        }
    }
}

/// Finds a directory holding `initdb`, `pg_ctl` and `postgres`.
pub fn find_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|t| dir.join(t).is_file())
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("DIAGD_PG_BINDIR") {
        candidates.push(dir.into());
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    candidates.push("/usr/local/pgsql/bin".into());
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|dir| has_server(dir))
}

/// The user PostgreSQL must run as: `None` when diagd is not root (it runs
/// as diagd's own user), the `postgres` system user when it is.
fn unprivileged_user() -> Result<Option<User>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(EmbeddedError::NoUnprivilegedUser),
    }
}

/// Creates the base directory when missing and makes it private to the
/// user PostgreSQL runs as (`run_as`, when diagd is root; that user must be
/// able to reach it); returns its canonical path.
fn prepare_base_dir(base_dir: &Path, run_as: Option<&User>) -> Result<PathBuf, EmbeddedError> {
    fs::create_dir_all(base_dir).map_err(io_error(format!("creating {}", base_dir.display())))?;
    let base_dir = base_dir
        .canonicalize()
        .map_err(io_error(format!("resolving {}", base_dir.display())))?;
    if let Some(user) = run_as {
        check_reachable(&base_dir, user)?;
        chown(&base_dir, Some(user.uid), Some(user.gid)).map_err(|e| {
            io_error(format!("handing {} to {}", base_dir.display(), user.name))(e.into())
        })?;
    }
    fs::set_permissions(&base_dir, fs::Permissions::from_mode(0o700))
        .map_err(io_error(format!("restricting {}", base_dir.display())))?;
    Ok(base_dir)
}

/// Checks that `user` can enter every directory above `dir`.
fn check_reachable(dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.permissions().mode();
        let reachable = mode & 0o001 != 0
            || (meta.uid() == user.uid.as_raw() && mode & 0o100 != 0)
            || (meta.gid() == user.gid.as_raw() && mode & 0o010 != 0);
        if !reachable {
            return Err(EmbeddedError::DirectoryNotReachable {
                user: user.name.clone(),
                dir: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Takes the data directory's lock: exclusive owners fail at once when
/// another diagd holds it; shared users wait for a concurrent start to finish.
fn lock_base_dir(base_dir: &Path, ownership: Ownership) -> Result<File, EmbeddedError> {
    let path = base_dir.join("diagd.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(format!("opening {}", path.display())))?;
    match ownership {
        Ownership::Exclusive => match file.try_lock() {
            Ok(()) => Ok(file),
            Err(fs::TryLockError::WouldBlock) => Err(EmbeddedError::InUse(base_dir.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => {
                Err(io_error(format!("locking {}", path.display()))(e))
            }
        },
        #[cfg(any(test, feature = "testing"))]
        Ownership::SharedForTests => {
            file.lock()
                .map_err(io_error(format!("locking {}", path.display())))?;
            Ok(file)
        }
    }
}

/// Reads the superuser password, generating and saving one the first time.
fn read_or_create_password(base_dir: &Path) -> Result<String, EmbeddedError> {
    let path = base_dir.join("password");
    match fs::read_to_string(&path) {
        Ok(password) if !password.trim().is_empty() => Ok(password.trim().to_string()),
        _ => {
            let password = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            write_private_file(&path, &password, None)?;
            Ok(password)
        }
    }
}

/// Writes a file only its owner can read; `owner` hands it to that user.
fn write_private_file(
    path: &Path,
    contents: &str,
    owner: Option<&User>,
) -> Result<(), EmbeddedError> {
    let context = format!("writing {}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(context.clone()))?;
    file.write_all(contents.as_bytes())
        .map_err(io_error(context.clone()))?;
    if let Some(user) = owner {
        chown(path, Some(user.uid), Some(Gid::from_raw(user.gid.as_raw())))
            .map_err(|e| io_error(context)(e.into()))?;
    }
    Ok(())
}

/// A loopback port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
