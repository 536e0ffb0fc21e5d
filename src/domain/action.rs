//! A user action recorded on its own with RecordAction (a breadcrumb), as
//! opposed to the recent actions a log carries inside itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::Source;

/// A validated action, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    /// When it happened (client clock; defaulted to receipt time).
    pub occurred_at: DateTime<Utc>,
    /// What was done.
    pub action: String,
    /// Details as a JSON object.
    pub details: Map<String, Value>,
    /// Where it comes from; the bound on stored actions applies per source.
    pub source: Source,
}

/// A stored action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedAction {
    /// Server-assigned UUID v7.
    pub id: Uuid,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// What was done.
    pub action: String,
    /// Details as a JSON object.
    pub details: Map<String, Value>,
    /// Where it comes from.
    pub source: Source,
}
