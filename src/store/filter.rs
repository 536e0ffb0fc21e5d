//! Turns a `LogFilter` into an SQL `WHERE` clause with numbered parameters.
//! Only fixed SQL fragments are written into the text; every user value
//! travels as a bind parameter.

use tokio_postgres::types::ToSql;

use crate::domain::{LogFilter, PageCursor};

/// A parameter value owned by the filter.
type Param = Box<dyn ToSql + Sync + Send>;

/// The conditions of a query and their parameter values.
#[derive(Default)]
pub(super) struct SqlFilter {
    /// Conditions, joined by AND; each refers to its parameters as `$n`.
    conditions: Vec<String>,
    /// Parameter values; `$1` is the first.
    params: Vec<Param>,
}

impl SqlFilter {
    /// The conditions of `filter` on the `logs` table.
    pub(super) fn for_logs(filter: &LogFilter) -> Self {
        let mut sql = SqlFilter::default();
        sql.push_kind_columns(filter);
        if let Some(since) = filter.since {
            sql.push(since, |p| format!("occurred_at >= {p}"));
        }
        if let Some(until) = filter.until {
            sql.push(until, |p| format!("occurred_at < {p}"));
        }
        sql.push_source_columns(filter);
        if !filter.source.labels.is_empty() {
            let labels = serde_json::to_value(&filter.source.labels).unwrap_or_default();
            sql.push(labels, |p| format!("source_labels @> {p}"));
        }
        if !filter.message_contains.is_empty() {
            sql.push(like_folded(&filter.message_contains), |p| {
                format!("diagd_fold(message) LIKE {p}")
            });
        }
        if !filter.group_ids.is_empty() {
            sql.push(filter.group_ids.clone(), |p| format!("group_id = ANY({p})"));
        }
        sql
    }

    /// The conditions of `filter` that the hourly counts can answer
    /// (severity, type, source host/run/component), plus an hour range.
    pub(super) fn for_hourly_counts(
        filter: &LogFilter,
        from_hour: Option<chrono::DateTime<chrono::Utc>>,
        to_hour: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        let mut sql = SqlFilter::default();
        sql.push_kind_columns(filter);
        if let Some(from) = from_hour {
            sql.push(from, |p| format!("hour >= {p}"));
        }
        if let Some(to) = to_hour {
            sql.push(to, |p| format!("hour < {p}"));
        }
        sql.push_source_columns(filter);
        sql
    }

    /// Adds a condition built by the caller from this filter's placeholders.
    pub(super) fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// Adds "strictly after `cursor` in newest-first order".
    pub(super) fn after_cursor(&mut self, cursor: PageCursor) {
        let at = self.param(cursor.occurred_at);
        let id = self.param(cursor.id);
        self.conditions
            .push(format!("(occurred_at, id) < ({at}, {id})"));
    }

    /// Adds a parameter that is not part of a condition (e.g. a LIMIT) and
    /// returns its placeholder.
    pub(super) fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// `WHERE …`, or nothing when there is no condition.
    pub(super) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The parameter values, in placeholder order.
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    /// Adds one condition over one parameter.
    fn push(
        &mut self,
        value: impl ToSql + Sync + Send + 'static,
        condition: impl FnOnce(&str) -> String,
    ) {
        let placeholder = self.param(value);
        self.conditions.push(condition(&placeholder));
    }

    /// The severity and error-type columns shared by `logs` and
    /// `log_counts_hourly`.
    fn push_kind_columns(&mut self, filter: &LogFilter) {
        if !filter.severities.is_empty() {
            let names: Vec<&'static str> = filter.severities.iter().map(|s| s.as_str()).collect();
            self.push(names, |p| format!("severity = ANY({p})"));
        }
        if !filter.error_types.is_empty() {
            let names: Vec<&'static str> = filter.error_types.iter().map(|t| t.as_str()).collect();
            self.push(names, |p| format!("error_type = ANY({p})"));
        }
    }

    /// The source columns shared by `logs` and `log_counts_hourly`.
    fn push_source_columns(&mut self, filter: &LogFilter) {
        let source = &filter.source;
        if !source.host.is_empty() {
            self.push(source.host.clone(), |p| format!("source_host = {p}"));
        }
        if !source.run_id.is_empty() {
            self.push(source.run_id.clone(), |p| format!("source_run_id = {p}"));
        }
        if !source.component.is_empty() {
            self.push(source.component.clone(), |p| {
                format!("source_component = {p}")
            });
        }
    }
}

/// The LIKE pattern "contains `text`" against a `diagd_fold(…)` column: the
/// text folded by the same rule ([`crate::domain::fold`]), its wildcards
/// escaped.
pub(super) fn like_folded(text: &str) -> String {
    format!("%{}%", escape_like(&crate::domain::fold::fold(text)))
}

/// Escapes `\`, `%` and `_` so the text matches literally inside LIKE.
pub(super) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn conditions_number_their_parameters_in_order() {
        let filter = LogFilter {
            severities: vec![crate::domain::Severity::High],
            message_contains: "cuda".into(),
            ..LogFilter::default()
        };
        let mut sql = SqlFilter::for_logs(&filter);
        let limit = sql.param(10_i64);
        assert_eq!(
            sql.where_clause(),
            "WHERE severity = ANY($1) AND diagd_fold(message) LIKE $2"
        );
        assert_eq!(limit, "$3");
        assert_eq!(sql.params().len(), 3);
    }
}
