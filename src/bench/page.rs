//! The page in a real browser (`--only page`): Debian's Chromium, driven by
//! `web/scripts/page-bench.mjs` (playwright-core), against the diagd under
//! measurement with everything the load stored. The script measures with the
//! browser's Performance API and prints its figures as one JSON line; this
//! module turns them into rows. For the live list the script says
//! `LIVE_READY` once the page follows the tail; this module then reports
//! 200 logs/s for 10 s (ReportError over HTTP/2, as trainers do) and answers
//! `LIVE_SENT <n>` on the script's stdin. It needs Node.js, `web/node_modules`
//! (`cd web && npm ci`) and `/usr/bin/chromium`; without them the part says
//! so instead of measuring.

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// What the script printed (its last stdout line).
#[derive(serde::Deserialize)]
struct PageFigures {
    /// Navigation start to the dashboard's counts and the first page of
    /// logs on screen, in a fresh browser context (no cache), per run.
    first_paint_ms: Vec<f64>,
    /// The last keystroke of a query typed at typing speed to its results
    /// on screen, per query.
    search_ms: Vec<f64>,
    /// The queries, in the order of `search_ms`.
    search_queries: Vec<String>,
    /// The live list while logs arrive at a steady rate.
    live: LiveFigures,
}

#[derive(serde::Deserialize)]
struct LiveFigures {
    shown: u64,
    frames: u64,
    /// Frames that took over 50 ms (a visible stutter).
    long_frames: u64,
    longest_frame_ms: f64,
    /// Long tasks (over 50 ms of main-thread work) reported by the browser.
    long_tasks: u64,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the browser script against `address` and answers its rows.
pub(super) async fn measure(address: &str, logs: usize) -> Result<Vec<Figure>, String> {
    let web = std::env::var_os("DIAGD_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"));
    let script = web.join("scripts/page-bench.mjs");
    let missing = [
        (web.join("node_modules/playwright-core"), "cd web && npm ci"),
        (
            PathBuf::from("/usr/bin/chromium"),
            "apt-get install chromium",
        ),
    ]
    .into_iter()
    .find(|(path, _)| !path.exists());
    if let Some((path, fix)) = missing {
        return Ok(vec![Figure::new(
            "page: not measured".into(),
            format!("{} is missing ({fix})", path.display()),
            "",
            Some("page"),
        )]);
    }
    eprintln!("bench: the page in Chromium (first paint, search as you type, live list)");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(address)
        .current_dir(&web)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("running node {}: {e}", script.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let mut last = String::new();
    let mut live_send = None;
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if line.trim() == "LIVE_READY" {
            let (sent, seconds) = send_live(address, logs, LIVE_RATE, LIVE_SECONDS).await?;
            live_send = Some((sent, seconds));
            stdin
                .write_all(format!("LIVE_SENT {sent}\n").as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        } else if !line.trim().is_empty() {
            last = line;
        }
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{} failed ({status})", script.display()));
    }
    let (sent, send_seconds) = live_send.ok_or("the script never started the live list")?;
    let figures: PageFigures = serde_json::from_str(&last)
        .map_err(|e| format!("{}: unexpected output {last:?}: {e}", script.display()))?;
    let mut slowest: Vec<(f64, &str)> = figures
        .search_ms
        .iter()
        .copied()
        .zip(figures.search_queries.iter().map(String::as_str))
        .collect();
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(ms, q)| format!("{q} {ms:.0} ms"))
        .collect();
    let live = &figures.live;
    Ok(vec![
        Figure::new(
            format!(
                "page: first meaningful paint (dashboard counts + first page of logs), {logs} logs stored, fresh browser context, {} loads",
                figures.first_paint_ms.len()
            ),
            format!(
                "p50 {:.0} ms, max {:.0} ms",
                percentile(&figures.first_paint_ms, 50.0),
                percentile(&figures.first_paint_ms, 100.0)
            ),
            "< 1 s",
            Some("page"),
        ),
        Figure::new(
            format!(
                "page: search as you type, last keystroke to results on screen, {} queries typed at ~8 keys/s",
                figures.search_ms.len()
            ),
            format!(
                "p50 {:.0} ms, p95 {:.0} ms (slowest: {})",
                percentile(&figures.search_ms, 50.0),
                percentile(&figures.search_ms, 95.0),
                slowest.join(", ")
            ),
            "p95 < 150 ms",
            Some("page"),
        ),
        Figure::new(
            format!(
                "page: live list, {:.0} new logs/s reported for {send_seconds:.1} s (ReportError, 20 at once)",
                sent as f64 / send_seconds
            ),
            format!(
                "{} of {sent} shown; {} frames, {} over 50 ms (longest {:.0} ms), {} long tasks",
                live.shown, live.frames, live.long_frames, live.longest_frame_ms, live.long_tasks
            ),
            "keeps up, no dropped frames",
            Some("page"),
        ),
    ])
}

/// The live part's rate and length.
const LIVE_RATE: usize = 200;
const LIVE_SECONDS: usize = 10;

/// Reports `rate` logs a second for `seconds` (ReportError, up to 20 in
/// flight, paced by the clock); answers how many were stored and how long
/// it took.
async fn send_live(
    address: &str,
    first: usize,
    rate: usize,
    seconds: usize,
) -> Result<(u64, f64), String> {
    let channel = Channel::from_shared(address.to_string())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let client = DiagnosticsServiceClient::new(channel);
    let started = Instant::now();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..rate * seconds {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let mut client = client.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let mut log = realistic_log(first + 1_000_000 + i);
            log.message = format!("live bench {i}: {}", log.message);
            client
                .report_error(pb::ReportErrorRequest { log: Some(log) })
                .await
                .is_ok()
        });
    }
    let mut stored = 0;
    while let Some(done) = tasks.join_next().await {
        stored += usize::from(done.unwrap_or(false));
    }
    Ok((stored as u64, started.elapsed().as_secs_f64()))
}
