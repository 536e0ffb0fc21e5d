//! The `diagd` client commands for people (issue #6): each runs as the real
//! binary against a real server, and its output is checked — human lines,
//! colours only when asked for (CLICOLOR_FORCE) or on a terminal and never
//! with NO_COLOR, `--json` for programs, `clear` asking on a terminal (a
//! pseudo-terminal here) and needing `--yes` elsewhere.

mod common;

use std::{
    io::{Read, Write},
    os::fd::OwnedFd,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{TestServer, new_log, report, stats};
use diagd::api::pb;

/// The binary, pointed at `server`, with no colour or token from the
/// environment.
fn diagd(server: &TestServer) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_diagd"));
    command
        .env("DIAGD_SERVER", format!("http://{}", server.addr))
        .env_remove("DIAGD_TOKEN")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    command
}

/// Runs `diagd args…` and returns its stdout; panics with stderr on failure.
fn run_ok(server: &TestServer, args: &[&str]) -> String {
    let output = diagd(server).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "diagd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `diagd args…` expecting failure; returns its stderr.
fn run_failing(server: &TestServer, args: &[&str]) -> String {
    let output = diagd(server).args(args).output().unwrap();
    assert!(
        !output.status.success(),
        "diagd {args:?} should fail, printed {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// The id printed by `diagd push` ("Stored <id>").
fn pushed_id(stdout: &str) -> String {
    stdout
        .trim()
        .strip_prefix("Stored ")
        .unwrap_or_else(|| panic!("unexpected push output {stdout:?}"))
        .to_string()
}

#[tokio::test]
async fn push_then_logs_get_and_stats_show_what_was_pushed() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");
    std::fs::write(
        &trace,
        "Traceback (most recent call last):\n  File \"train.py\", line 88, in step\ntorch.cuda.OutOfMemoryError: CUDA out of memory",
    )
    .unwrap();

    // From flags: severity, type, context (JSON values and text), source,
    // labels, a stack trace file and this machine's state.
    let oom = pushed_id(&run_ok(
        &server,
        &[
            "push",
            "-m",
            "CUDA out of memory. Tried to allocate 2.00 GiB",
            "--severity",
            "critical",
            "--type",
            "oom",
            "--stack-trace-file",
            trace.to_str().unwrap(),
            "-c",
            "batch_size=64",
            "-c",
            "model=llama-7b",
            "-c",
            "hf_token=hf_abc123",
            "--host",
            "gpu-node-7",
            "--run-id",
            "run-42",
            "--component",
            "trainer",
            "--label",
            "team=nlp",
            "--system-state",
        ],
    ));

    // From a JSON file with short enum names and recent actions.
    let file = dir.path().join("error.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "message": "Connection reset by peer while downloading shards",
            "severity": "high",
            "errorType": "network",
            "recentActions": [
                { "action": "download_model", "details": { "repo": "meta/llama" } }
            ],
            "source": { "host": "gpu-node-8" }
        })
        .to_string(),
    )
    .unwrap();
    let network = pushed_id(&run_ok(
        &server,
        &["push", "--file", file.to_str().unwrap()],
    ));

    // Only one of the two inputs can be stdin.
    let both_stdin = run_failing(&server, &["push", "--file", "-", "--stack-trace-file", "-"]);
    assert!(both_stdin.contains("would both read stdin"), "{both_stdin}");

    // The same event id twice: stored once, and said so.
    let event_id = uuid::Uuid::new_v4().to_string();
    let push_once = [
        "push",
        "-m",
        "lr too high",
        "-s",
        "medium",
        "-t",
        "configuration",
        "--event-id",
        &event_id,
    ];
    let first = run_ok(&server, &push_once);
    let again = run_ok(&server, &push_once);
    assert!(
        again.contains("Already stored as")
            && again.contains(first.trim().trim_start_matches("Stored "))
    );

    // logs: the stats header, then one line per log, newest first.
    let logs = run_ok(&server, &["logs"]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(
        lines[0],
        "Total 3   ● Critical 1   ● High 1   ● Medium 1   ● Low 0"
    );
    assert!(lines[2].starts_with("MEDIUM   ") && lines[2].contains("configuration  lr too high"));
    assert!(lines[3].starts_with("HIGH     ") && lines[3].contains(&network));
    assert!(
        lines[4].starts_with("CRITICAL ")
            && lines[4].contains("oom            CUDA out of memory. Tried to allocate 2.00 GiB")
            && lines[4].contains("gpu-node-7/run-42/trainer")
            && lines[4].contains(&oom),
        "{logs}"
    );
    assert!(!logs.contains('\u{1b}'), "no colour into a pipe");

    // Filters and --limit.
    let only_critical = run_ok(&server, &["logs", "--severity", "critical", "--no-header"]);
    assert_eq!(only_critical.lines().count(), 1);
    let limited = run_ok(&server, &["logs", "-n", "1"]);
    assert!(limited.contains("Showing the newest 1 of 3"), "{limited}");

    // --json: one protobuf-JSON LogEntry per line, full details.
    let json = run_ok(&server, &["logs", "--json", "--type", "oom"]);
    let entry: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(entry["id"], oom.as_str());
    assert_eq!(entry["severity"], "SEVERITY_CRITICAL");
    assert_eq!(entry["context"]["batch_size"], 64);
    assert_eq!(entry["context"]["hf_token"], "[redacted]");
    assert_eq!(entry["source"]["labels"]["team"], "nlp");

    // get: every detail, and what to try.
    let details = run_ok(&server, &["get", &oom]);
    for expected in [
        "CRITICAL CUDA out of memory. Tried to allocate 2.00 GiB",
        &format!("id          {oom}"),
        "host        gpu-node-7",
        "labels      team=nlp",
        "Stack trace",
        "  File \"train.py\", line 88, in step",
        "System state",
        "CPU ",
        "Context",
        "\"batch_size\": 64",
        "\"model\": \"llama-7b\"",
        "What to try (Out of Memory (OOM) errors)",
        "solutions   Reduce batch size, enable gradient checkpointing, use quantization",
    ] {
        assert!(
            details.contains(expected),
            "missing {expected:?} in\n{details}"
        );
    }
    let details = run_ok(&server, &["get", &network]);
    assert!(
        details.contains("Recent actions (oldest first)"),
        "{details}"
    );
    assert!(
        details.contains("download_model  {\"repo\":\"meta/llama\"}"),
        "{details}"
    );

    // stats: counts by type.
    let stats_text = run_ok(&server, &["stats"]);
    assert!(stats_text.contains("By type"), "{stats_text}");
    assert!(
        stats_text.contains("oom                      1"),
        "{stats_text}"
    );
    let stats_json: serde_json::Value =
        serde_json::from_str(&run_ok(&server, &["stats", "--json"])).unwrap();
    assert_eq!(stats_json["total"], 3);

    // Bad input: named.
    let unknown = run_failing(&server, &["get", "not-a-uuid"]);
    assert!(
        unknown.contains("id: \"not-a-uuid\" is not a UUID") && unknown.contains("\n  field: id"),
        "{unknown}"
    );
    let missing = run_failing(&server, &["get", &uuid::Uuid::now_v7().to_string()]);
    assert!(missing.contains("not found"), "{missing}");
    let bad_severity = run_failing(&server, &["push", "-m", "x", "-s", "dire"]);
    assert!(
        bad_severity.contains("expected one of critical, high, medium, low"),
        "{bad_severity}"
    );
}

#[tokio::test]
async fn colour_only_when_forced_or_on_a_terminal_and_never_with_no_color() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log("disk full", pb::Severity::Critical, pb::ErrorType::Other),
    )
    .await;
    report(
        &mut client,
        new_log("NCCL timeout", pb::Severity::High, pb::ErrorType::Network),
    )
    .await;

    let forced = diagd(&server)
        .args(["logs"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    let forced = String::from_utf8(forced.stdout).unwrap();
    assert!(forced.contains("\u{1b}[31m"), "critical in red: {forced:?}");
    assert!(
        forced.contains("\u{1b}[38;5;208m"),
        "high in orange: {forced:?}"
    );

    let no_color = diagd(&server)
        .args(["logs"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(no_color.stdout)
            .unwrap()
            .contains('\u{1b}')
    );

    let piped = run_ok(&server, &["logs"]);
    assert!(!piped.contains('\u{1b}'));

    // On a terminal: coloured without being asked.
    let (output, _) = on_a_terminal(&server, &["logs"], None);
    assert!(output.contains("\u{1b}[31m"), "{output:?}");
}

#[tokio::test]
async fn search_highlights_matches_and_summarises() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut log = new_log(
        "CUDA out of memory during backward",
        pb::Severity::Critical,
        pb::ErrorType::Oom,
    );
    log.stack_trace = "File \"model.py\", line 3\ntorch.cuda.OutOfMemoryError".into();
    report(&mut client, log).await;
    report(
        &mut client,
        new_log("NCCL timeout", pb::Severity::High, pb::ErrorType::Network),
    )
    .await;

    let plain = run_ok(&server, &["search", "cuda", "memory"]);
    assert!(
        plain.contains("CUDA out of memory during backward"),
        "{plain}"
    );
    assert!(
        plain.contains("    message: CUDA out of memory during backward"),
        "{plain}"
    );
    assert!(plain.contains("    stack_trace: "), "{plain}");
    assert!(plain.contains("1 matching log in "), "{plain}");
    assert!(!plain.contains("NCCL"));

    let coloured = diagd(&server)
        .args(["search", "memory"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    let coloured = String::from_utf8(coloured.stdout).unwrap();
    assert!(
        coloured.contains("\u{1b}[43mmemory\u{1b}[0m"),
        "the match is highlighted: {coloured:?}"
    );

    let none = run_ok(&server, &["search", "segfault"]);
    assert!(none.contains("0 matching logs"), "{none}");

    let json = run_ok(&server, &["search", "--json", "nccl"]);
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["hit"]["log"]["message"], "NCCL timeout");
    assert_eq!(events.last().unwrap()["summary"]["matched"], 1);
}

#[tokio::test]
async fn tail_shows_the_backfill_then_follows_live() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log("before the tail", pb::Severity::Low, pb::ErrorType::Other),
    )
    .await;

    let mut child = diagd(&server)
        .args(["tail", "-n", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        lines_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from diagd tail")
    };
    assert!(next_line().contains("before the tail"));
    assert!(next_line().starts_with("-- live: "));
    report(
        &mut client,
        new_log(
            "NCCL timeout on rank 3",
            pb::Severity::High,
            pb::ErrorType::Network,
        ),
    )
    .await;
    let live = next_line();
    assert!(
        live.starts_with("HIGH ") && live.contains("NCCL timeout on rank 3"),
        "{live}"
    );

    // Ctrl-C ends it cleanly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "tail exits 0 on Ctrl-C: {status:?}");
}

/// Runs `diagd args…` with stdin, stdout and stderr on a pseudo-terminal;
/// types `answer` once `prompt_end` has appeared. Returns everything it
/// printed and whether it succeeded.
fn on_a_terminal(
    server: &TestServer,
    args: &[&str],
    answer: Option<(&str, &str)>,
) -> (String, bool) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut child = diagd(server)
        .args(args)
        .env("TERM", "xterm-256color")
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave))
        .spawn()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut printed = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut answered = answer.is_none();
    loop {
        if !answered
            && let Some((prompt_end, reply)) = answer
            && String::from_utf8_lossy(&printed).contains(prompt_end)
        {
            master.write_all(reply.as_bytes()).unwrap();
            answered = true;
        }
        match master.read(&mut buffer) {
            Ok(0) | Err(_) => break, // EIO once the child closed the terminal
            Ok(n) => printed.extend_from_slice(&buffer[..n]),
        }
        assert!(
            Instant::now() < deadline,
            "no end: {:?}",
            String::from_utf8_lossy(&printed)
        );
    }
    let status = child.wait().unwrap();
    (
        String::from_utf8_lossy(&printed).into_owned(),
        status.success(),
    )
}

#[tokio::test]
async fn clear_asks_on_a_terminal_and_needs_yes_elsewhere() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for severity in [pb::Severity::Low, pb::Severity::Low, pb::Severity::Critical] {
        report(
            &mut client,
            new_log("to clear", severity, pb::ErrorType::Other),
        )
        .await;
    }

    // Not a terminal, no --yes: refused, nothing deleted.
    let refused = run_failing(&server, &["clear"]);
    assert!(
        refused.contains("stdin is not a terminal, pass --yes"),
        "{refused}"
    );
    assert_eq!(stats(&mut client).await.total, 3);

    // On a terminal: it says what it would delete; anything but "yes" keeps it.
    let (printed, ok) = on_a_terminal(
        &server,
        &["clear", "--severity", "low"],
        Some(("continue: ", "no\n")),
    );
    assert!(!ok);
    assert!(
        printed
            .contains("This deletes the logs of severity low: 2 logs. Type \"yes\" to continue: "),
        "{printed:?}"
    );
    assert!(printed.contains("not cleared"), "{printed:?}");
    assert_eq!(stats(&mut client).await.total, 3);

    let (printed, ok) = on_a_terminal(
        &server,
        &["clear", "--severity", "low"],
        Some(("continue: ", "yes\n")),
    );
    assert!(ok, "{printed:?}");
    assert!(printed.contains("Deleted 2 logs"), "{printed:?}");
    assert_eq!(stats(&mut client).await.total, 1);

    // --yes: no question.
    let cleared = run_ok(&server, &["clear", "--yes", "--json"]);
    let outcome: serde_json::Value = serde_json::from_str(&cleared).unwrap();
    assert_eq!(outcome["deletedCount"], 1);
    assert_eq!(stats(&mut client).await.total, 0);
}

#[tokio::test]
async fn reports_are_generated_listed_downloaded_and_deleted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    report(
        &mut client,
        new_log(
            "CUDA out of memory",
            pb::Severity::Critical,
            pb::ErrorType::Oom,
        ),
    )
    .await;

    let generated = run_ok(
        &server,
        &["report", "--json", "generate", "--severity", "critical"],
    );
    let info: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let id = info["reportId"].as_str().unwrap().to_string();
    assert_eq!(info["errorCount"], 1);

    let listed = run_ok(&server, &["report", "list"]);
    assert!(
        listed.starts_with(&format!("Report {id}: 1 error, ")),
        "{listed}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let downloaded = run_ok(
        &server,
        &["report", "download", &id, "-o", path.to_str().unwrap()],
    );
    assert!(
        downloaded.starts_with(&format!("Downloaded report {id} (")),
        "{downloaded}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in [
        "timestamp",
        "system",
        "configuration",
        "errors",
        "error_summary",
        "guidance",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}: {report}");
    }
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        info["sizeBytes"].as_u64().unwrap()
    );
    assert!(!has_partial_files(dir.path()));

    run_ok(&server, &["report", "delete", &id]);
    let gone = run_failing(&server, &["report", "show", &id]);
    assert!(gone.contains("not found"), "{gone}");
}

fn has_partial_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    })
}

#[tokio::test]
async fn debug_mode_is_switched_and_shown() {
    let server = TestServer::start().await;
    assert!(run_ok(&server, &["debug"]).starts_with("Debug mode is OFF"));
    let on = run_ok(
        &server,
        &["debug", "on", "--for", "30m", "--by", "ops@laptop"],
    );
    assert!(on.starts_with("Debug mode is ON"), "{on}");
    assert!(
        on.contains("by ops@laptop") && on.contains("turns off at"),
        "{on}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&run_ok(&server, &["debug", "status", "--json"])).unwrap();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["changedBy"], "ops@laptop");
    assert!(run_ok(&server, &["debug", "off"]).starts_with("Debug mode is OFF"));
    let bad = run_failing(&server, &["debug", "on", "--for", "forever"]);
    assert!(bad.contains("expected an age"), "{bad}");
}

#[tokio::test]
async fn connection_errors_say_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for command in [
        vec!["logs"],
        vec!["stats"],
        vec!["push", "-m", "x"],
        vec!["tail"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_diagd"))
            .args(&command)
            .args(["--server", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("cannot reach diagd at http://127.0.0.1:{port}"))
                && stderr.contains("Is diagd running there"),
            "{command:?}: {stderr}"
        );
    }
}

/// Stores `count` logs "error 0", "error 1", … in one batch.
async fn store_numbered_logs(client: &mut common::Client, count: usize) {
    let logs = (0..count)
        .map(|i| {
            new_log(
                &format!("error {i}"),
                pb::Severity::Medium,
                pb::ErrorType::Training,
            )
        })
        .collect();
    assert_eq!(
        common::ingest(client, vec![logs]).await.accepted,
        count as u64
    );
}

#[tokio::test]
async fn long_work_shows_progress_only_on_a_terminal() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    store_numbered_logs(&mut client, 500).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();

    let (printed, ok) = on_a_terminal(&server, &["export", "-o", out], None);
    assert!(ok, "{printed:?}");
    assert!(
        printed.contains("exporting logs ["),
        "a progress bar: {printed:?}"
    );
    assert!(printed.contains("500/500"), "{printed:?}");
    assert!(printed.contains("Exported 500 logs to "), "{printed:?}");

    let piped = diagd(&server).args(["export", "-o", out]).output().unwrap();
    assert!(piped.status.success());
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("exporting"),
        "no progress bar into a pipe"
    );
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    store_numbered_logs(&mut client, 2000).await;
    // Like `diagd logs --json -n 2000 | head -1`.
    let mut child = diagd(&server)
        .args(["logs", "--json", "-n", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first:?}");
    // The reader is gone (stdout closed): the command ends by SIGPIPE, the
    // way `ls | head` does, without a panic.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.status.success() || output.status.signal() == Some(13),
        "{:?}: {stderr}",
        output.status
    );
}

#[tokio::test]
async fn groups_are_listed_shown_noted_resolved_and_their_logs_filtered() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let trace = |rank: usize| {
        format!(
            "Traceback (most recent call last):\n  File \"/srv/r{rank}/train.py\", line {}, in step\n    loss.backward()\n  File \"/opt/conda/lib/python3.11/site-packages/torch/_tensor.py\", line 581, in backward\n    torch.autograd.backward(\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate {}.00 GiB",
            40 + rank,
            rank + 1
        )
    };
    for rank in 0..3 {
        let mut log = new_log("OOM", pb::Severity::Critical, pb::ErrorType::Oom);
        log.stack_trace = trace(rank);
        log.source = Some(pb::Source {
            host: format!("gpu-{rank}"),
            ..Default::default()
        });
        report(&mut client, log).await;
    }
    report(
        &mut client,
        new_log("NCCL timeout", pb::Severity::High, pb::ErrorType::Network),
    )
    .await;

    let table = run_ok(&server, &["groups", "--sort", "count"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("STATUS") && lines[0].contains("LAST 24H"),
        "{table}"
    );
    assert!(
        lines[1].contains("unresolved")
            && lines[1].contains(" 3 ")
            && lines[1].contains("torch.OutOfMemoryError"),
        "the OOM group first, with its count: {table}"
    );
    assert!(lines[1].contains('█'), "a trend sparkline: {table}");
    assert!(
        lines[2].contains("train in step") && lines[2].contains("3 hosts"),
        "{table}"
    );
    let id: i64 = lines[1].split_whitespace().next().unwrap().parse().unwrap();
    let ids = id.to_string();

    let noted = run_ok(
        &server,
        &[
            "group",
            "note",
            &ids,
            "Halve the micro-batch",
            "--by",
            "alice",
        ],
    );
    assert!(
        noted.contains("note by alice: Halve the micro-batch"),
        "{noted}"
    );
    let shown = run_ok(&server, &["group", "show", &ids]);
    for expected in [
        "culprit    train in step",
        "events     3",
        "Known fix (by alice",
        "Halve the micro-batch",
        "Why these logs are together",
        "train in step: loss.backward()",
        "gpu-0 (1)",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    assert!(run_ok(&server, &["group", "resolve", &ids]).contains("is resolved"));
    let resolved: serde_json::Value = serde_json::from_str(&run_ok(
        &server,
        &["groups", "--status", "resolved", "--json"],
    ))
    .unwrap();
    assert_eq!(
        resolved["id"], id,
        "the CLI's JSON writes 64-bit integers as numbers"
    );
    assert_eq!(resolved["status"], "GROUP_STATUS_RESOLVED");
    let ignored = run_ok(&server, &["group", "ignore", &ids, "--events", "5"]);
    assert!(ignored.contains("is ignored"), "{ignored}");

    let trend = run_ok(&server, &["stats", "--by", "hour", "--group", &ids]);
    assert!(trend.contains("Over time"), "{trend}");
    let critical = trend
        .lines()
        .find(|l| l.contains("CRITICAL") && l.contains('█'))
        .unwrap_or_else(|| panic!("a critical trend line: {trend}"));
    assert!(critical.trim_end().ends_with(" 3"), "{critical}");
    let logs = run_ok(&server, &["logs", "--group", &ids, "--no-header"]);
    assert_eq!(logs.lines().count(), 3, "{logs}");
    let missing = run_failing(&server, &["group", "show", "999999"]);
    assert!(missing.contains("group 999999 not found"), "{missing}");
    let bad = run_failing(&server, &["groups", "--status", "sleeping"]);
    assert!(bad.contains("unknown status"), "{bad}");
}

#[tokio::test]
async fn runs_are_listed_and_shown_with_who_is_behind() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for rank in 0..2 {
        let mut beat = pb::HeartbeatRequest {
            run_id: "llama-ft-42".into(),
            host: "gpu-node-03".into(),
            rank,
            pid: 4000 + rank as u32,
            phase: pb::RunPhase::Training as i32,
            step: Some(100),
            ..Default::default()
        };
        if rank == 1 {
            beat.phase = pb::RunPhase::Failed as i32;
            beat.message = "RuntimeError: NCCL error".into();
        }
        client.heartbeat(beat).await.unwrap();
    }
    let table = run_ok(&server, &["runs"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("STATE") && lines[0].contains("SUMMARY"),
        "{table}"
    );
    assert!(
        lines[1].contains("failed")
            && lines[1].contains("llama-ft-42")
            && lines[1].contains("1/2")
            && lines[1]
                .contains("rank 1 on gpu-node-03 failed at step 100: RuntimeError: NCCL error"),
        "{table}"
    );
    let shown = run_ok(&server, &["run", "show", "llama-ft-42"]);
    for expected in [
        "2 members: 1 alive",
        "gpu-node-03",
        "training",
        "RuntimeError: NCCL error",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&server, &["runs", "--state", "failed", "--json"])).unwrap();
    assert_eq!(json["runId"], "llama-ft-42");
    assert_eq!(json["state"], "RUN_STATE_FAILED");
    let missing = run_failing(&server, &["run", "show", "nope"]);
    assert!(missing.contains("run nope not found"), "{missing}");
}

#[tokio::test]
async fn alert_rules_are_added_listed_tested_and_their_deliveries_shown() {
    let server = TestServer::start().await;
    // A receiver nobody runs: attempts are refused, and say so.
    let url = format!(
        "http://127.0.0.1:{}/hooks/T0/B0/secret-part",
        common::free_port()
    );
    let bad = run_failing(
        &server,
        &["alerts", "add", "x", "--on", "critical", "--url", "ftp://x"],
    );
    assert!(bad.contains("rule.url"), "{bad}");
    let added = run_ok(
        &server,
        &[
            "alerts",
            "add",
            "pager",
            "--on",
            "critical",
            "--url",
            &url,
            "--to",
            "slack",
            "--host",
            "gpu-node-7",
            "--throttle",
            "5m",
        ],
    );
    let id = added
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("{added}"))
        .to_string();
    assert!(
        added.contains("pager") && !added.contains("secret-part"),
        "{added}"
    );
    let rules = run_ok(&server, &["alerts", "rules"]);
    for expected in [
        id.as_str(),
        "pager",
        "critical",
        "300s",
        "slack",
        "host gpu-node-7",
    ] {
        assert!(rules.contains(expected), "{expected:?} in {rules}");
    }
    assert!(!rules.contains("secret-part"), "{rules}");
    let tested = run_failing(&server, &["alerts", "test", &id]);
    assert!(
        tested.contains("the sample was not accepted: could not connect"),
        "{tested}"
    );
    run_ok(
        &server,
        &[
            "push",
            "-m",
            "NCCL watchdog timeout",
            "--severity",
            "critical",
            "--type",
            "network",
            "--host",
            "gpu-node-7",
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let shown = run_ok(&server, &["alerts", "deliveries", "--attempts"]);
        if shown.contains("could not connect") {
            assert!(shown.contains("pending"), "{shown}");
            assert!(
                shown.contains("CRITICAL network on gpu-node-7: NCCL watchdog timeout"),
                "{shown}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{shown}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let json: serde_json::Value = serde_json::from_str(
        run_ok(&server, &["alerts", "deliveries", "-n", "1", "--json"]).trim(),
    )
    .unwrap();
    assert_eq!(json["ruleId"], id.as_str());
    run_ok(&server, &["alerts", "rm", &id]);
    let failed = run_ok(&server, &["alerts", "deliveries", "--state", "failed"]);
    assert!(
        failed.contains("failed"),
        "deleting the rule gives up its alerts: {failed}"
    );
    assert!(run_ok(&server, &["alerts", "rules"]).contains("no alert rules"));
}
