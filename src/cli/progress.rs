//! Progress bars for long client work (export, report download), drawn on
//! stderr only when it is a terminal — pipes, files and CI logs stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing when stderr is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Progress over `total` bytes of `what` (0: unknown total, a spinner).
    pub fn bytes(total: u64, what: &str) -> Progress {
        Self::new(
            total,
            what,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            "{msg} {spinner} {bytes} {bytes_per_sec}",
        )
    }

    /// Progress over `total` items of `what` (0: unknown total, a spinner).
    pub fn items(total: u64, what: &str) -> Progress {
        Self::new(
            total,
            what,
            "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
            "{msg} {spinner} {human_pos} {per_sec}",
        )
    }

    fn new(total: u64, what: &str, bar: &str, spinner: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let (progress, template) = if total > 0 {
            (ProgressBar::new(total), bar)
        } else {
            (ProgressBar::new_spinner(), spinner)
        };
        progress.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            progress.set_style(style.progress_chars("=> "));
        }
        progress.set_message(what.to_string());
        Progress(Some(progress))
    }

    /// `n` more done.
    pub fn advance(&self, n: u64) {
        if let Some(progress) = &self.0 {
            progress.inc(n);
        }
    }

    /// `n` done in all (kept within the total).
    pub fn set(&self, n: u64) {
        if let Some(progress) = &self.0 {
            let n = progress.length().map_or(n, |total| n.min(total));
            progress.set_position(n);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(progress) = &self.0 {
            progress.finish_and_clear();
        }
    }
}
