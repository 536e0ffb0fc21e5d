//! `diagd push`: reports one error from the command line — how a shell
//! script, a job scheduler's epilogue or a trainer's wrapper says that a run
//! failed. From flags, or from a JSON file (a `NewLog` in protobuf JSON, the
//! same body `buf curl` sends), optionally with this machine's system state.

use std::{io::Read, path::PathBuf};

use clap::Args;
use serde_json::Value;

use super::{ServerArgs, describe, json, parse_error_type, parse_severity};
use crate::{
    api::{json_to_struct, pb},
    domain::{ErrorType, Severity},
};

/// `diagd push` flags.
#[derive(Args, Clone, Debug)]
pub struct PushArgs {
    /// The diagd to report to.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The error message.
    #[arg(short, long, required_unless_present = "file")]
    pub message: Option<String>,
    /// A JSON file holding the whole log (`-`: stdin); flags given as well
    /// override its fields.
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    /// critical, high, medium or low (default: high).
    #[arg(short, long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// oom, network, configuration, model_loading, training, inference or
    /// other (default: other).
    #[arg(short = 't', long = "type", value_parser = parse_error_type)]
    pub error_type: Option<ErrorType>,
    /// The stack trace as text.
    #[arg(long, conflicts_with = "stack_trace_file")]
    pub stack_trace: Option<String>,
    /// A file holding the stack trace (`-`: stdin), e.g. the tail of a
    /// crashed run's log.
    #[arg(long)]
    pub stack_trace_file: Option<PathBuf>,
    /// Context as KEY=VALUE (repeat); VALUE is read as JSON when it parses
    /// (numbers, true, {"a":1}), else as text.
    #[arg(short, long = "context", value_parser = parse_key_value)]
    pub context: Vec<(String, String)>,
    /// Source host (default: this machine's name).
    #[arg(long)]
    pub host: Option<String>,
    /// Training run id.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Component (trainer, dataloader, eval…).
    #[arg(long)]
    pub component: Option<String>,
    /// Source label as KEY=VALUE (repeat).
    #[arg(long = "label", value_parser = parse_key_value)]
    pub labels: Vec<(String, String)>,
    /// Idempotency key (a UUID): pushing again with it stores nothing new.
    #[arg(long)]
    pub event_id: Option<String>,
    /// Attach this machine's CPU, memory, disk and GPU state.
    #[arg(long)]
    pub system_state: bool,
    /// The answer as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Sends the error; prints its id.
pub async fn push(args: PushArgs) -> Result<(), String> {
    let is_stdin = |path: &Option<PathBuf>| path.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if is_stdin(&args.file) && is_stdin(&args.stack_trace_file) {
        return Err(
            "--file - and --stack-trace-file - would both read stdin; give one of them a file"
                .into(),
        );
    }
    let mut log = match &args.file {
        Some(path) => json::new_log_from_json(
            serde_json::from_str(&read_input(path)?)
                .map_err(|e| format!("{}: not JSON: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?,
        None => pb::NewLog::default(),
    };
    if let Some(message) = &args.message {
        log.message = message.clone();
    }
    if let Some(severity) = args.severity {
        log.severity = crate::api::severity_to_proto(severity) as i32;
    } else if log.severity == 0 {
        log.severity = pb::Severity::High as i32;
    }
    if let Some(error_type) = args.error_type {
        log.error_type = crate::api::error_type_to_proto(error_type) as i32;
    }
    if let Some(trace) = &args.stack_trace {
        log.stack_trace = trace.clone();
    }
    if let Some(path) = &args.stack_trace_file {
        log.stack_trace = read_input(path)?;
    }
    if !args.context.is_empty() {
        let mut context = match log.context.take() {
            Some(existing) => match json::to_json(&existing, "google.protobuf.Struct") {
                Value::Object(map) => map,
                _ => Default::default(),
            },
            None => Default::default(),
        };
        for (key, value) in &args.context {
            let value = serde_json::from_str(value).unwrap_or(Value::String(value.clone()));
            context.insert(key.clone(), value);
        }
        log.context = Some(json_to_struct(context));
    }
    let source = log.source.get_or_insert_with(Default::default);
    if let Some(host) = &args.host {
        source.host = host.clone();
    } else if source.host.is_empty() {
        source.host = super::host_name().unwrap_or_default();
    }
    if let Some(run_id) = &args.run_id {
        source.run_id = run_id.clone();
    }
    if let Some(component) = &args.component {
        source.component = component.clone();
    }
    for (key, value) in &args.labels {
        source.labels.insert(key.clone(), value.clone());
    }
    if let Some(event_id) = &args.event_id {
        log.event_id = event_id.clone();
    }
    if args.system_state {
        log.system_state = Some(
            tokio::task::spawn_blocking(this_machine)
                .await
                .map_err(|e| format!("reading the system state: {e}"))?,
        );
    }

    let mut client = args.server.connect().await?;
    let answer = client
        .report_error(pb::ReportErrorRequest { log: Some(log) })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    if args.json {
        println!("{}", json::line(&answer, "ReportErrorResponse"));
    } else if answer.duplicate {
        println!(
            "Already stored as {} (same event id); nothing new stored",
            answer.id
        );
    } else {
        println!("Stored {}", answer.id);
    }
    Ok(())
}

/// The contents of `path`, or of stdin for `-`.
fn read_input(path: &std::path::Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading stdin: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
    }
}

/// `KEY=VALUE`.
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?}: expected KEY=VALUE")),
    }
}

/// This machine's state in the contract's terms (blocking: CPU usage needs
/// two readings).
fn this_machine() -> pb::SystemState {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let snapshot = crate::system::snapshot(&[cwd]);
    let number = |path: &str| snapshot.pointer(path).and_then(Value::as_u64);
    let gpus = snapshot
        .pointer("/gpu/devices")
        .and_then(Value::as_array)
        .map(|devices| {
            devices
                .iter()
                .map(|gpu| pb::GpuState {
                    name: gpu["name"].as_str().unwrap_or_default().to_string(),
                    memory_used_bytes: gpu["memory_used_bytes"].as_u64().unwrap_or(0),
                    memory_total_bytes: gpu["memory_total_bytes"].as_u64().unwrap_or(0),
                    utilization_percent: gpu["utilization_percent"].as_f64(),
                })
                .collect()
        })
        .unwrap_or_default();
    pb::SystemState {
        cpu_percent: snapshot
            .pointer("/cpu/usage_percent")
            .and_then(Value::as_f64),
        memory_used_bytes: number("/memory/used_bytes").unwrap_or(0),
        memory_total_bytes: number("/memory/total_bytes").unwrap_or(0),
        disk_used_bytes: number("/disks/0/used_bytes").unwrap_or(0),
        disk_total_bytes: number("/disks/0/total_bytes").unwrap_or(0),
        gpus,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_key_value;

    #[test]
    fn key_values_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("lr=3e-4").unwrap(),
            ("lr".to_string(), "3e-4".to_string())
        );
        assert_eq!(
            parse_key_value("cmd=a=b").unwrap(),
            ("cmd".to_string(), "a=b".to_string())
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
