//! The debug-mode switch: verbose logging across diagd and the fleet.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Debug mode's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DebugMode {
    /// True while switched on (see [`DebugMode::is_on`] for auto-off).
    pub enabled: bool,
    /// When it last changed; `None` if it never did.
    pub changed_at: Option<DateTime<Utc>>,
    /// Who changed it last, as they named themselves.
    pub changed_by: String,
    /// When it switches itself off; `None` when it stays on.
    pub auto_off_at: Option<DateTime<Utc>>,
}

impl DebugMode {
    /// Whether debug mode is in effect at `now`: on, and not past auto-off.
    pub fn is_on(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.auto_off_at.is_none_or(|off| now < off)
    }
}
