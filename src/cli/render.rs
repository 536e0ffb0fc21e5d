//! Human output of the client commands, shaped like the seed's UI: a stats
//! header (total, then critical red, high orange, medium yellow, low blue),
//! one line per log with its severity badge, time, type and message, and the
//! full details of one log. Text carries ANSI styles; the commands print it
//! through `anstream`, which drops them unless stdout is a colour terminal
//! (NO_COLOR turns them off, CLICOLOR_FORCE on).

use std::fmt::Write as _;

use anstyle::{Ansi256Color, AnsiColor, Color, Style};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::{api::pb, domain::ErrorType};

/// Style of a severity.
pub fn severity_style(severity: pb::Severity) -> Style {
    let color: Color = match severity {
        pb::Severity::Critical => AnsiColor::Red.into(),
        pb::Severity::High => Ansi256Color(208).into(),
        pb::Severity::Medium => AnsiColor::Yellow.into(),
        pb::Severity::Low => AnsiColor::Blue.into(),
        pb::Severity::Unspecified => AnsiColor::White.into(),
    };
    Style::new().fg_color(Some(color)).bold()
}

/// Upper-case name of a severity.
pub fn severity_name(severity: pb::Severity) -> &'static str {
    match severity {
        pb::Severity::Critical => "CRITICAL",
        pb::Severity::High => "HIGH",
        pb::Severity::Medium => "MEDIUM",
        pb::Severity::Low => "LOW",
        pb::Severity::Unspecified => "?",
    }
}

/// Short name of an error type.
pub fn error_type_name(error_type: pb::ErrorType) -> &'static str {
    match error_type {
        pb::ErrorType::Oom => "oom",
        pb::ErrorType::Network => "network",
        pb::ErrorType::Configuration => "configuration",
        pb::ErrorType::ModelLoading => "model_loading",
        pb::ErrorType::Training => "training",
        pb::ErrorType::Inference => "inference",
        pb::ErrorType::Other | pb::ErrorType::Unspecified => "other",
    }
}

/// `text` in `style`.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Dimmed text, for ids and secondary facts.
pub fn dim(text: impl std::fmt::Display) -> String {
    paint(Style::new().dimmed(), text)
}

/// Bold text, for headings.
pub fn bold(text: impl std::fmt::Display) -> String {
    paint(Style::new().bold(), text)
}

/// The badge of a severity, padded so messages line up.
pub fn badge(severity: pb::Severity) -> String {
    paint(
        severity_style(severity),
        format!("{:<8}", severity_name(severity)),
    )
}

/// A time as `2026-11-25 16:02:11Z` (UTC, seconds).
pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A time in full RFC 3339 (for details).
fn precise_time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| "-".into())
}

/// A count with thousands separators: 1,234,567.
pub fn count(n: u64) -> String {
    crate::domain::thousands(n)
}

/// Bytes as KiB/MiB/GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The stats header: total, then the count of each severity in its colour.
pub fn stats_header(stats: &pb::GetStatsResponse) -> String {
    let of = |severity: pb::Severity| {
        stats
            .by_severity
            .iter()
            .find(|c| c.severity() == severity)
            .map_or(0, |c| c.count)
    };
    let mut line = format!("{} {}", bold("Total"), bold(count(stats.total)));
    for (severity, label) in [
        (pb::Severity::Critical, "Critical"),
        (pb::Severity::High, "High"),
        (pb::Severity::Medium, "Medium"),
        (pb::Severity::Low, "Low"),
    ] {
        let _ = write!(
            line,
            "   {} {}",
            paint(severity_style(severity), format!("● {label}")),
            count(of(severity))
        );
    }
    line
}

/// One line for a log: badge, time, type, message (first line), source, id.
pub fn log_line(log: &pb::LogEntry) -> String {
    let message = log.message.lines().next().unwrap_or_default();
    let mut line = format!(
        "{} {}  {:<13}  {}",
        badge(log.severity()),
        time(log.occurred_at.as_ref()),
        error_type_name(log.error_type()),
        message
    );
    if log.message.lines().nth(1).is_some() {
        line.push_str(" …");
    }
    let source = source_text(log.source.as_ref());
    if !source.is_empty() {
        let _ = write!(line, "  {}", dim(source));
    }
    let _ = write!(line, "  {}", dim(&log.id));
    line
}

/// `host/run/component`, leaving out the empty parts.
fn source_text(source: Option<&pb::Source>) -> String {
    let Some(source) = source else {
        return String::new();
    };
    [&source.host, &source.run_id, &source.component]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("/")
}

/// Everything about one log, as `diagd get` shows it.
pub fn log_details(log: &pb::LogEntry) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", badge(log.severity()), bold(&log.message));
    let field = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "  {}{value}", dim(format!("{name:<12}")));
    };
    field(&mut out, "id", log.id.clone());
    if !log.event_id.is_empty() {
        field(&mut out, "event id", log.event_id.clone());
    }
    field(
        &mut out,
        "type",
        error_type_name(log.error_type()).to_string(),
    );
    field(&mut out, "occurred", precise_time(log.occurred_at.as_ref()));
    field(&mut out, "received", precise_time(log.received_at.as_ref()));
    if let Some(source) = &log.source {
        for (name, value) in [
            ("host", &source.host),
            ("run", &source.run_id),
            ("component", &source.component),
        ] {
            if !value.is_empty() {
                field(&mut out, name, value.clone());
            }
        }
        if !source.labels.is_empty() {
            let mut labels: Vec<_> = source.labels.iter().collect();
            labels.sort();
            let text = labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            field(&mut out, "labels", text);
        }
    }

    if !log.stack_trace.is_empty() {
        let _ = writeln!(out, "\n{}", bold("Stack trace"));
        for line in log.stack_trace.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }

    if let Some(state) = &log.system_state {
        let _ = writeln!(out, "\n{}", bold("System state"));
        let mut parts = Vec::new();
        if let Some(cpu) = state.cpu_percent {
            parts.push(format!("CPU {cpu:.1}%"));
        }
        if state.memory_total_bytes > 0 {
            parts.push(format!(
                "memory {} / {} ({:.0}%)",
                bytes(state.memory_used_bytes),
                bytes(state.memory_total_bytes),
                100.0 * state.memory_used_bytes as f64 / state.memory_total_bytes as f64
            ));
        }
        if state.disk_total_bytes > 0 {
            parts.push(format!(
                "disk {} / {}",
                bytes(state.disk_used_bytes),
                bytes(state.disk_total_bytes)
            ));
        }
        let _ = writeln!(out, "  {}", parts.join("   "));
        for (i, gpu) in state.gpus.iter().enumerate() {
            let mut text = format!(
                "  GPU {i} {}: {} / {}",
                gpu.name,
                bytes(gpu.memory_used_bytes),
                bytes(gpu.memory_total_bytes)
            );
            if let Some(utilization) = gpu.utilization_percent {
                let _ = write!(text, ", {utilization:.0}% busy");
            }
            let _ = writeln!(out, "{text}");
        }
    }

    if let Some(context) = &log.context
        && !context.fields.is_empty()
    {
        let _ = writeln!(out, "\n{}", bold("Context"));
        let json = super::json::to_json(context, "google.protobuf.Struct");
        let pretty = serde_json::to_string_pretty(&json).unwrap_or_default();
        for line in pretty.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }

    if !log.recent_actions.is_empty() {
        let _ = writeln!(out, "\n{}", bold("Recent actions (oldest first)"));
        for action in &log.recent_actions {
            let mut line = format!(
                "  {}  {}",
                dim(time(action.timestamp.as_ref())),
                action.action
            );
            if let Some(details) = &action.details
                && !details.fields.is_empty()
            {
                let json = super::json::to_json(details, "google.protobuf.Struct");
                let _ = write!(line, "  {}", dim(json));
            }
            let _ = writeln!(out, "{line}");
        }
    }

    if let Some(error_type) = ErrorType::parse(error_type_name(log.error_type())) {
        let guidance = error_type.guidance();
        let _ = writeln!(
            out,
            "\n{}",
            bold(format!("What to try ({})", guidance.title))
        );
        for (name, text) in [
            ("causes", guidance.causes),
            ("solutions", guidance.solutions),
            ("prevention", guidance.prevention),
        ] {
            let _ = writeln!(out, "  {}{text}", dim(format!("{name:<12}")));
        }
    }
    out
}

/// `fragment` with each byte range highlighted (ranges clamped to the
/// fragment and to character boundaries; overlapping ranges merged).
pub fn highlight_ranges(fragment: &str, ranges: &[(usize, usize)]) -> String {
    let style = Style::new()
        .fg_color(Some(AnsiColor::Black.into()))
        .bg_color(Some(AnsiColor::Yellow.into()))
        .bold();
    let mut clamped: Vec<(usize, usize)> = ranges
        .iter()
        .map(|&(start, end)| {
            let start = floor_boundary(fragment, start.min(fragment.len()));
            (
                start,
                floor_boundary(fragment, end.clamp(start, fragment.len())),
            )
        })
        .filter(|(start, end)| start < end)
        .collect();
    clamped.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in clamped {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (start, end) in merged {
        out.push_str(&fragment[at..start]);
        out.push_str(&paint(style, &fragment[start..end]));
        at = end;
    }
    out.push_str(&fragment[at..]);
    out
}

/// Where each of `terms` occurs in `text`, ignoring ASCII case (for
/// highlighting every matched word in a fragment).
pub fn occurrences(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let lowered = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for term in terms {
        let term = term.to_ascii_lowercase();
        if term.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(offset) = lowered[from..].find(&term) {
            found.push((from + offset, from + offset + term.len()));
            from += offset + term.len();
        }
    }
    found
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_like_a_person_writes_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn highlights_mark_the_match_and_stay_on_character_boundaries() {
        let plain = |s: &str| anstream::adapter::strip_str(s).to_string();
        let marked = highlight_ranges("größe OOM", &[(7, 10)]);
        assert_eq!(plain(&marked), "größe OOM");
        assert!(
            marked.contains("m\u{1b}") || marked.contains("mOOM"),
            "{marked:?}"
        );
        assert!(!marked.starts_with('\u{1b}'));
        // Offsets inside a character or past the end are clamped.
        assert_eq!(plain(&highlight_ranges("größe", &[(3, 4)])), "größe");
        assert_eq!(plain(&highlight_ranges("abc", &[(5, 9)])), "abc");
        // Several ranges, overlapping ones merged.
        let both = highlight_ranges("cuda out of memory", &[(0, 4), (12, 18), (2, 6)]);
        assert_eq!(plain(&both), "cuda out of memory");
        assert_eq!(both.matches("\u{1b}[0m").count(), 2, "{both:?}");
        assert_eq!(
            occurrences("CUDA out of memory, cuda", &["cuda".into()]),
            vec![(0, 4), (20, 24)]
        );
    }
}
