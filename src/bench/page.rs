//! The page in a real browser (`--only page`): Debian's Chromium, driven by
//! `web/scripts/page-bench.mjs` (playwright-core), against the diagd under
//! measurement with everything the load stored. The script measures with the
//! browser's Performance API and prints its figures as one JSON line; this
//! module turns them into rows. It needs Node.js, `web/node_modules`
//! (`cd web && npm ci`) and `/usr/bin/chromium`; without them the part says
//! so instead of measuring.

use super::*;

/// What the script printed (its last stdout line).
#[derive(serde::Deserialize)]
struct PageFigures {
    /// Navigation start to the dashboard's counts and the first page of
    /// logs on screen, in a fresh browser context (no cache), per run.
    first_paint_ms: Vec<f64>,
    /// The last keystroke of a query typed at typing speed to its results
    /// on screen, per query.
    search_ms: Vec<f64>,
    /// The live list while logs arrive at a steady rate.
    live: LiveFigures,
}

#[derive(serde::Deserialize)]
struct LiveFigures {
    rate_per_s: f64,
    seconds: f64,
    sent: u64,
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
        (PathBuf::from("/usr/bin/chromium"), "apt-get install chromium"),
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
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(address)
        .current_dir(&web)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| format!("running node {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", script.display(), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let figures: PageFigures = serde_json::from_str(last)
        .map_err(|e| format!("{}: unexpected output {last:?}: {e}", script.display()))?;
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
                "p50 {:.0} ms, p95 {:.0} ms",
                percentile(&figures.search_ms, 50.0),
                percentile(&figures.search_ms, 95.0)
            ),
            "p95 < 150 ms",
            Some("page"),
        ),
        Figure::new(
            format!(
                "page: live list, {:.0} new logs/s for {:.0} s",
                live.rate_per_s, live.seconds
            ),
            format!(
                "{} of {} shown; {} frames, {} over 50 ms (longest {:.0} ms), {} long tasks",
                live.shown,
                live.sent,
                live.frames,
                live.long_frames,
                live.longest_frame_ms,
                live.long_tasks
            ),
            "keeps up, no dropped frames",
            Some("page"),
        ),
    ])
}
