//! The diagd under measurement: a `diagd serve` child process on a free
//! port (its memory read apart from the benchmark's own), and the
//! benchmark's temporary directory.

use super::*;

/// A `diagd serve` child process on a free port, so its memory can be read
/// apart from the benchmark's own; stopped with SIGTERM when dropped.
pub(super) struct DiagdProcess {
    child: std::process::Child,
    pub(super) address: String,
}

impl DiagdProcess {
    pub(super) async fn start(
        url: &str,
        max_subscribers: usize,
        log: &std::path::Path,
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        // DIAGD_BENCH_SERVER: another diagd binary to measure (e.g. an
        // older build, for a before/after on the same machine and day).
        let exe = match std::env::var_os("DIAGD_BENCH_SERVER") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe().map_err(|e| e.to_string())?,
        };
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = std::process::Command::new(exe)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--max-subscribers", &max_subscribers.to_string()])
            .args(["--log-level", "warn"])
            .env("DATABASE_URL", url)
            .env_remove("DIAGD_ADMIN_TOKENS")
            .env_remove("DIAGD_READ_TOKENS")
            .env_remove("DIAGD_INGEST_TOKENS")
            .env_remove("DIAGD_TOKENS_FILE")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting diagd serve: {e}"))?;
        let process = DiagdProcess {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = Channel::from_shared(process.address.clone())
                .map_err(|e| e.to_string())?
                .connect()
                .await
            {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                if let Ok(answer) = health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    && answer.into_inner().status == 1
                {
                    return Ok(process);
                }
            }
            if Instant::now() > deadline {
                return Err("diagd serve did not become healthy within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A line of /proc/<pid>/status in bytes (VmRSS: now, VmHWM: peak).
    pub(super) fn memory(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
    }

    /// Starts a new peak-memory measurement (Linux: clear_refs 5).
    pub(super) fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").is_ok()
    }
}

impl Drop for DiagdProcess {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

pub(super) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("unknown".into(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    })
}

pub(super) fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("diagd-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
