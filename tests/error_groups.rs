//! Workflow: a fleet reports the same error from many ranks and machines,
//! and a person triages *groups* instead of rows — one group per error with
//! its count, affected hosts and runs, trend and known fix; resolved groups
//! that come back are flagged as regressions; merges stick and splits undo
//! them; counts stay exact through clears. Real server, real PostgreSQL,
//! real tonic client.

mod common;

use common::{Client, TestServer, assert_status, clear, new_log, report};
use diagd::api::pb::{self, ErrorType, Severity};
use tonic::Code;

/// A CUDA OOM from the trainer's `loss.backward()`, as torch `version`
/// prints it on a machine whose project and environment live at `root` and
/// `site`.
fn oom_trace(root: &str, site: &str, version: u8, gib: &str) -> String {
    let (kind, line) = if version == 1 {
        ("torch.cuda.OutOfMemoryError", 522)
    } else {
        ("torch.OutOfMemoryError", 581)
    };
    format!(
        "Traceback (most recent call last):
  File \"{root}/train.py\", line 88, in <module>
    main()
  File \"{root}/train.py\", line 71, in main
    step(model, batch)
  File \"{root}/loop.py\", line 19, in step
    loss.backward()
  File \"{site}/torch/_tensor.py\", line {line}, in backward
    torch.autograd.backward(
  File \"{site}/torch/autograd/__init__.py\", line 266, in backward
    Variable._execution_engine.run_backward(
{kind}: CUDA out of memory. Tried to allocate {gib} GiB. GPU 3 has a total capacity of 79.15 GiB"
    )
}

/// A different RuntimeError from the same line.
fn grad_trace(root: &str) -> String {
    format!(
        "Traceback (most recent call last):
  File \"{root}/train.py\", line 88, in <module>
    main()
  File \"{root}/loop.py\", line 19, in step
    loss.backward()
  File \"/opt/conda/lib/python3.11/site-packages/torch/_tensor.py\", line 581, in backward
    torch.autograd.backward(
RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"
    )
}

fn oom_log(rank: usize) -> pb::NewLog {
    let (root, site, version) = if rank.is_multiple_of(2) {
        (
            "/home/alice/llm",
            "/home/alice/.venv/lib/python3.10/site-packages",
            1,
        )
    } else {
        (
            "/workspace/llm",
            "/opt/conda/lib/python3.11/site-packages",
            2,
        )
    };
    let mut log = new_log(
        &format!("CUDA out of memory on rank {rank}"),
        Severity::Critical,
        ErrorType::Oom,
    );
    log.stack_trace = oom_trace(root, site, version, &format!("{}.00", 1 + rank % 5));
    log.source = Some(pb::Source {
        host: format!("gpu-node-{:02}", rank / 8),
        run_id: format!("run-{}", rank % 2),
        component: format!("rank-{rank}"),
        ..Default::default()
    });
    log
}

async fn group_of(client: &mut Client, log_id: &str) -> i64 {
    let log = client
        .get_log(pb::GetLogRequest { id: log_id.into() })
        .await
        .expect("GetLog")
        .into_inner()
        .log
        .expect("a log");
    assert!(log.group_id > 0, "every new log has a group: {log:?}");
    assert_eq!(log.fingerprint.len(), 32);
    log.group_id
}

async fn get_group(client: &mut Client, id: i64) -> pb::GetGroupResponse {
    client
        .get_group(pb::GetGroupRequest {
            id,
            ..Default::default()
        })
        .await
        .expect("GetGroup")
        .into_inner()
}

async fn list_groups(client: &mut Client, request: pb::ListGroupsRequest) -> Vec<pb::ErrorGroup> {
    client
        .list_groups(request)
        .await
        .expect("ListGroups")
        .into_inner()
        .groups
}

async fn update(client: &mut Client, request: pb::UpdateGroupRequest) -> pb::ErrorGroup {
    client
        .update_group(request)
        .await
        .expect("UpdateGroup")
        .into_inner()
        .group
        .expect("a group")
}

fn status(group: &pb::ErrorGroup) -> pb::GroupStatus {
    pb::GroupStatus::try_from(group.status).unwrap()
}

#[tokio::test]
async fn the_same_oom_from_64_ranks_and_two_torch_versions_is_one_group_with_its_fix() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let batch: Vec<pb::NewLog> = (0..64).map(oom_log).collect();
    let answer = common::ingest(&mut client, vec![batch]).await;
    assert_eq!(answer.accepted, 64);
    let mut grad = new_log("backward failed", Severity::High, ErrorType::Training);
    grad.stack_trace = grad_trace("/workspace/llm");
    let grad_id = report(&mut client, grad).await;

    let groups = list_groups(&mut client, pb::ListGroupsRequest::default()).await;
    assert_eq!(
        groups.len(),
        2,
        "one OOM group and one grad group: {groups:#?}"
    );
    let oom = groups
        .iter()
        .find(|g| g.event_count == 64)
        .expect("the OOM group holds all 64");
    assert_eq!(oom.hosts, 8);
    assert_eq!(oom.runs, 2);
    assert_eq!(oom.window_count, 64, "all within the last 24 hours");
    assert_eq!(oom.exception_type, "torch.OutOfMemoryError");
    assert!(
        oom.title
            .starts_with("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate <size>"),
        "{}",
        oom.title
    );
    assert_eq!(oom.culprit, "loop in step");
    assert_eq!(oom.severity, Severity::Critical as i32);
    assert_eq!(status(oom), pb::GroupStatus::Unresolved);
    assert_eq!(oom.fingerprints, 1);
    let grad_group = group_of(&mut client, &grad_id).await;
    assert_ne!(
        grad_group, oom.id,
        "a different RuntimeError from the same line"
    );

    // Its logs, its detail: why, trend, top sources.
    let logs = client
        .list_logs(pb::ListLogsRequest {
            filter: Some(pb::LogFilter {
                group_ids: vec![oom.id],
                ..Default::default()
            }),
            page_size: 100,
            include_total: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logs.total_count, Some(64));
    assert!(logs.logs.iter().all(|l| l.group_id == oom.id));
    let stats = client
        .get_stats(pb::GetStatsRequest {
            filter: Some(pb::LogFilter {
                group_ids: vec![grad_group],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total, 1);

    let detail = get_group(&mut client, oom.id).await;
    assert_eq!(detail.histogram.len(), 30, "30 daily buckets by default");
    assert_eq!(detail.histogram.last().unwrap().count, 64, "today's bucket");
    assert_eq!(detail.histogram.iter().map(|b| b.count).sum::<u64>(), 64);
    assert_eq!(detail.top_hosts.len(), 8);
    assert_eq!(detail.top_hosts[0].count, 8);
    assert_eq!(detail.top_runs.len(), 2);
    assert_eq!(detail.top_runs[0].count, 32);
    let latest = detail.latest_log.expect("its newest log");
    assert!(latest.stack_trace.contains("loss.backward()"), "full log");
    assert_eq!(detail.fingerprints.len(), 1);
    let why = &detail.fingerprints[0].explanation;
    assert!(
        why.contains("torch.OutOfMemoryError") && why.contains("loop in step: loss.backward()"),
        "why grouped: {why}"
    );
    assert!(!why.contains("alice"), "no path prefixes: {why}");
    let components: serde_json::Value =
        serde_json::from_str(&detail.fingerprints[0].components_json).unwrap();
    assert_eq!(components["kind"], "traceback");

    // The knowledge base: a note with the fix.
    let noted = update(
        &mut client,
        pb::UpdateGroupRequest {
            id: oom.id,
            note: "Activation memory: enable gradient checkpointing or halve the micro-batch."
                .into(),
            update_note: true,
            actor: "alice".into(),
            ..Default::default()
        },
    )
    .await;
    let note = noted.note.clone().expect("the note");
    assert!(note.text.contains("gradient checkpointing"));
    assert_eq!(note.author, "alice");
    assert_eq!(status(&noted), pb::GroupStatus::Unresolved, "status kept");

    // The next diagnostic report lists the groups, with the note as the
    // known fix.
    let report_id = client
        .generate_report(pb::GenerateReportRequest::default())
        .await
        .expect("GenerateReport")
        .into_inner()
        .report
        .unwrap()
        .report_id;
    let document: serde_json::Value =
        serde_json::from_slice(&common::download_report_bytes(&mut client, report_id).await)
            .unwrap();
    let listed = document["groups"].as_array().expect("a groups section");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], oom.id);
    assert_eq!(listed[0]["count"], 64);
    assert_eq!(listed[0]["culprit"], "loop in step");
    assert_eq!(listed[0]["status"], "unresolved");
    assert!(
        listed[0]["known_fix"]["text"]
            .as_str()
            .unwrap()
            .contains("gradient checkpointing")
    );
    assert_eq!(listed[0]["known_fix"]["author"], "alice");
    assert!(listed[1]["known_fix"].is_null());

    // Text filter and order.
    let found = list_groups(
        &mut client,
        pb::ListGroupsRequest {
            text: "out of MEMORY".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(found.iter().map(|g| g.id).collect::<Vec<_>>(), [oom.id]);
    let by_count = list_groups(
        &mut client,
        pb::ListGroupsRequest {
            order_by: pb::GroupOrder::Count as i32,
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_count[0].id, oom.id);
}

#[tokio::test]
async fn a_resolved_group_that_recurs_is_a_regression_and_ignore_rules_run_out() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let id = report(&mut client, oom_log(0)).await;
    let group = group_of(&mut client, &id).await;

    let resolved = update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Resolved as i32,
            actor: "bob".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status(&resolved), pb::GroupStatus::Resolved);
    assert_eq!(resolved.status_changed_by, "bob");
    assert!(resolved.regressed_at.is_none());
    report(&mut client, oom_log(1)).await;
    let again = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&again), pb::GroupStatus::Unresolved, "reopened");
    assert!(again.regressed_at.is_some(), "flagged as a regression");
    assert_eq!(again.event_count, 2);

    // Ignored for 3 more events: the 4th reopens it (no regression flag
    // beyond the first).
    let ignored = update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Ignored as i32,
            ignore_events: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ignored.ignored_events_left, 3);
    for rank in 2..5 {
        report(&mut client, oom_log(rank)).await;
    }
    let still = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&still), pb::GroupStatus::Ignored);
    assert_eq!(still.ignored_events_left, 0);
    report(&mut client, oom_log(5)).await;
    let back = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&back), pb::GroupStatus::Unresolved);

    // Ignored until a time: unresolved once it passes, without an event.
    let until = chrono::Utc::now() + chrono::TimeDelta::milliseconds(1500);
    let ignored = update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Ignored as i32,
            ignore_until: Some(common::ts(&until.to_rfc3339())),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status(&ignored), pb::GroupStatus::Ignored);
    assert!(ignored.ignored_until.is_some());
    let ignored_list = list_groups(
        &mut client,
        pb::ListGroupsRequest {
            statuses: vec![pb::GroupStatus::Ignored as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ignored_list.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    let expired = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&expired), pb::GroupStatus::Unresolved);

    // Ignored for good stays ignored through events.
    update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Ignored as i32,
            ..Default::default()
        },
    )
    .await;
    report(&mut client, oom_log(6)).await;
    let muted = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&muted), pb::GroupStatus::Ignored);
    assert_eq!(muted.event_count, 7);
}

#[tokio::test]
async fn merges_stick_for_new_logs_and_a_split_moves_a_fingerprint_back_out() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let oom = report(&mut client, oom_log(0)).await;
    let mut grad = new_log("backward failed", Severity::High, ErrorType::Training);
    grad.stack_trace = grad_trace("/workspace/llm");
    let grad_id = report(&mut client, grad.clone()).await;
    let target = group_of(&mut client, &oom).await;
    let source = group_of(&mut client, &grad_id).await;
    update(
        &mut client,
        pb::UpdateGroupRequest {
            id: source,
            note: "grad note".into(),
            update_note: true,
            ..Default::default()
        },
    )
    .await;

    let merged = client
        .merge_groups(pb::MergeGroupsRequest {
            target_id: target,
            source_ids: vec![source],
        })
        .await
        .expect("MergeGroups")
        .into_inner();
    assert_eq!(merged.moved_logs, 1);
    let group = merged.group.unwrap();
    assert_eq!(group.id, target);
    assert_eq!(group.event_count, 2);
    assert_eq!(group.fingerprints, 2);
    assert_eq!(group.hosts, 1, "recounted at the merge: one host");
    assert_eq!(
        group.note.map(|n| n.text).as_deref(),
        Some("grad note"),
        "a target without a note takes the source's"
    );
    assert_eq!(
        group_of(&mut client, &grad_id).await,
        target,
        "its log moved"
    );

    // The merged fingerprint keeps landing in the target.
    let later = report(&mut client, grad.clone()).await;
    assert_eq!(group_of(&mut client, &later).await, target, "merges stick");
    let via_source = get_group(&mut client, source).await;
    assert_eq!(via_source.group.unwrap().id, target);
    assert_eq!(via_source.merged_from, source);
    let listed = list_groups(&mut client, pb::ListGroupsRequest::default()).await;
    assert_eq!(listed.len(), 1, "the merged-away group is not listed");
    assert_eq!(listed[0].event_count, 3);

    // Split the grad fingerprint back out: its two logs follow it.
    let detail = get_group(&mut client, target).await;
    let grad_print = detail
        .fingerprints
        .iter()
        .find(|f| f.title.starts_with("RuntimeError"))
        .expect("the grad fingerprint")
        .fingerprint
        .clone();
    let split = client
        .split_group(pb::SplitGroupRequest {
            id: target,
            fingerprint: grad_print.clone(),
        })
        .await
        .expect("SplitGroup")
        .into_inner();
    assert_eq!(split.moved_logs, 2);
    let new_group = split.group.unwrap();
    assert_eq!(new_group.event_count, 2);
    assert_ne!(new_group.id, target);
    assert_eq!(group_of(&mut client, &later).await, new_group.id);
    let next = report(&mut client, grad).await;
    assert_eq!(group_of(&mut client, &next).await, new_group.id);
    assert_eq!(
        get_group(&mut client, target)
            .await
            .group
            .unwrap()
            .event_count,
        1
    );

    // Refusals.
    assert_status(
        client
            .split_group(pb::SplitGroupRequest {
                id: target,
                fingerprint: grad_print,
            })
            .await,
        Code::InvalidArgument,
        "not one of this group's fingerprints",
    );
    let only = get_group(&mut client, target).await.fingerprints[0]
        .fingerprint
        .clone();
    assert_status(
        client
            .split_group(pb::SplitGroupRequest {
                id: target,
                fingerprint: only,
            })
            .await,
        Code::InvalidArgument,
        "only fingerprint",
    );
    assert_status(
        client
            .merge_groups(pb::MergeGroupsRequest {
                target_id: target,
                source_ids: vec![target],
            })
            .await,
        Code::InvalidArgument,
        "source_ids[0]",
    );
    assert_status(
        client
            .merge_groups(pb::MergeGroupsRequest {
                target_id: target,
                source_ids: vec![999_999],
            })
            .await,
        Code::NotFound,
        "group 999999",
    );
}

#[tokio::test]
async fn group_counts_stay_exact_through_concurrent_ingest_and_clears() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // Four streams into one hot group, with mixed severities.
    let mut tasks = Vec::new();
    for stream in 0..4 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let batches: Vec<Vec<pb::NewLog>> = (0..10)
                .map(|b| {
                    (0..50)
                        .map(|i| {
                            let mut log = oom_log(stream * 1000 + b * 50 + i);
                            log.severity = if i.is_multiple_of(5) {
                                Severity::Low as i32
                            } else {
                                Severity::Critical as i32
                            };
                            log
                        })
                        .collect()
                })
                .collect();
            common::ingest(&mut client, batches).await.accepted
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap();
    }
    assert_eq!(accepted, 2000);
    let groups = list_groups(&mut client, pb::ListGroupsRequest::default()).await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].event_count, 2000, "no lost count");
    let id = groups[0].id;

    let cleared = clear(&mut client, &[Severity::Low], false).await;
    assert_eq!(cleared.deleted_count, 400);
    let after = get_group(&mut client, id).await;
    assert_eq!(after.group.as_ref().unwrap().event_count, 1600);
    assert_eq!(after.histogram.iter().map(|b| b.count).sum::<u64>(), 1600);
    assert_eq!(
        after.top_runs.iter().map(|r| r.count).sum::<u64>(),
        1600,
        "per-source counts too"
    );

    // Clearing the group's logs empties it but keeps it (and its note).
    update(
        &mut client,
        pb::UpdateGroupRequest {
            id,
            note: "known fix".into(),
            update_note: true,
            ..Default::default()
        },
    )
    .await;
    let by_group = client
        .clear_logs(pb::ClearLogsRequest {
            confirm: true,
            group_ids: vec![id],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_group.deleted_count, 1600);
    assert!(
        list_groups(&mut client, pb::ListGroupsRequest::default())
            .await
            .is_empty(),
        "an empty group is not listed by default"
    );
    let empty = list_groups(
        &mut client,
        pb::ListGroupsRequest {
            include_empty: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(empty.len(), 1);
    assert_eq!(empty[0].event_count, 0);
    assert!(empty[0].last_seen.is_none());
    assert!(empty[0].severity == Severity::Unspecified as i32);
    // The error comes back: same group, the note is still there.
    let back = report(&mut client, oom_log(0)).await;
    assert_eq!(group_of(&mut client, &back).await, id);
    let again = get_group(&mut client, id).await.group.unwrap();
    assert_eq!(again.event_count, 1);
    assert_eq!(again.note.unwrap().text, "known fix");

    // A full clear zeroes every group and keeps them.
    clear(&mut client, &[], false).await;
    let zeroed = list_groups(
        &mut client,
        pb::ListGroupsRequest {
            include_empty: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(zeroed.len(), 1);
    assert_eq!(zeroed[0].event_count, 0);
}

#[tokio::test]
async fn a_client_fingerprint_overrides_the_computed_one() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut a = new_log(
        "timeout talking to db-1",
        Severity::High,
        ErrorType::Network,
    );
    a.fingerprint = vec!["database-timeouts".into()];
    let mut b = new_log(
        "connection reset by storage",
        Severity::High,
        ErrorType::Network,
    );
    b.fingerprint = vec!["database-timeouts".into()];
    let a = report(&mut client, a).await;
    let b = report(&mut client, b).await;
    assert_eq!(
        group_of(&mut client, &a).await,
        group_of(&mut client, &b).await
    );

    let mut tenant_a = oom_log(0);
    tenant_a.fingerprint = vec!["{{ default }}".into(), "tenant-a".into()];
    let mut tenant_b = oom_log(0);
    tenant_b.fingerprint = vec!["{{default}}".into(), "tenant-b".into()];
    let ta = report(&mut client, tenant_a).await;
    let tb = report(&mut client, tenant_b).await;
    let plain = report(&mut client, oom_log(1)).await;
    let ga = group_of(&mut client, &ta).await;
    assert_ne!(ga, group_of(&mut client, &tb).await);
    assert_ne!(ga, group_of(&mut client, &plain).await);
    let detail = get_group(&mut client, ga).await;
    assert!(
        detail.fingerprints[0]
            .explanation
            .contains("client fingerprint"),
        "{}",
        detail.fingerprints[0].explanation
    );
    assert!(
        detail
            .group
            .unwrap()
            .title
            .starts_with("torch.OutOfMemoryError")
    );

    // Bad fingerprints are refused with the field named.
    let mut many = new_log("m", Severity::Low, ErrorType::Other);
    many.fingerprint = (0..17).map(|i| format!("k{i}")).collect();
    assert_status(
        client
            .report_error(pb::ReportErrorRequest { log: Some(many) })
            .await,
        Code::InvalidArgument,
        "log.fingerprint",
    );
    let mut long = new_log("m", Severity::Low, ErrorType::Other);
    long.fingerprint = vec!["x".repeat(257)];
    assert_status(
        client
            .report_error(pb::ReportErrorRequest { log: Some(long) })
            .await,
        Code::InvalidArgument,
        "log.fingerprint[0]",
    );
    let mut empty = new_log("m", Severity::Low, ErrorType::Other);
    empty.fingerprint = vec![" ".into()];
    assert_status(
        client
            .report_error(pb::ReportErrorRequest { log: Some(empty) })
            .await,
        Code::InvalidArgument,
        "log.fingerprint[0]",
    );
}

#[tokio::test]
async fn group_rpcs_refuse_bad_input_with_the_field_named() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let id = report(&mut client, oom_log(0)).await;
    let group = group_of(&mut client, &id).await;
    assert_status(
        client
            .get_group(pb::GetGroupRequest {
                id: 424_242,
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "group 424242",
    );
    assert_status(
        client.get_group(pb::GetGroupRequest::default()).await,
        Code::InvalidArgument,
        "id",
    );
    assert_status(
        client
            .get_group(pb::GetGroupRequest {
                id: group,
                buckets: 721,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "buckets",
    );
    assert_status(
        client
            .update_group(pb::UpdateGroupRequest {
                id: group,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "nothing to change",
    );
    assert_status(
        client
            .update_group(pb::UpdateGroupRequest {
                id: group,
                status: pb::GroupStatus::Resolved as i32,
                ignore_events: 3,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ignore_events",
    );
    assert_status(
        client
            .update_group(pb::UpdateGroupRequest {
                id: group,
                note: "x".repeat(16 * 1024 + 1),
                update_note: true,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "note",
    );
    assert_status(
        client
            .update_group(pb::UpdateGroupRequest {
                id: 424_242,
                status: pb::GroupStatus::Resolved as i32,
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "group 424242",
    );
    assert_status(
        client
            .list_groups(pb::ListGroupsRequest {
                page_size: 501,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_size",
    );
    assert_status(
        client
            .list_groups(pb::ListGroupsRequest {
                statuses: vec![0],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "statuses[0]",
    );
    assert_status(
        client
            .list_groups(pb::ListGroupsRequest {
                page_token: "garbage".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        client
            .split_group(pb::SplitGroupRequest {
                id: group,
                fingerprint: "not-hex".into(),
            })
            .await,
        Code::InvalidArgument,
        "fingerprint",
    );
    assert_status(
        client
            .list_logs(pb::ListLogsRequest {
                filter: Some(pb::LogFilter {
                    group_ids: vec![-1],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "filter.group_ids[0]",
    );
}

#[tokio::test]
async fn list_groups_pages_by_keyset_without_repeats() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let logs: Vec<pb::NewLog> = (0..7)
        .map(|i| {
            let mut log = new_log("x", Severity::Medium, ErrorType::Other);
            log.fingerprint = vec![format!("kind-{i}")];
            log
        })
        .collect();
    common::ingest(&mut client, vec![logs]).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_groups(pb::ListGroupsRequest {
                page_size: 3,
                page_token: token.clone(),
                order_by: pb::GroupOrder::FirstSeen as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.groups.iter().map(|g| g.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(unique.len(), 7);
    // A token with another order is refused.
    let first = client
        .list_groups(pb::ListGroupsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_status(
        client
            .list_groups(pb::ListGroupsRequest {
                page_size: 3,
                page_token: first.next_page_token,
                order_by: pb::GroupOrder::Count as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_token",
    );
}

#[tokio::test]
async fn logs_stored_before_groups_existed_are_grouped_in_the_background_once() {
    let first = TestServer::start().await;
    let mut client = first.client().await;
    let mut batch: Vec<pb::NewLog> = (0..300).map(oom_log).collect();
    batch.extend((0..20).map(|_| {
        let mut grad = new_log("backward failed", Severity::High, ErrorType::Training);
        grad.stack_trace = grad_trace("/workspace/llm");
        grad
    }));
    assert_eq!(common::ingest(&mut client, vec![batch]).await.accepted, 320);
    // The database as migration 0008 leaves an older one: logs without
    // fingerprints or groups, no groups at all.
    let db = common::connect_database(&first).await;
    db.batch_execute(
        "UPDATE logs SET fingerprint = NULL, group_id = NULL;
         TRUNCATE fingerprint_counts_hourly, fingerprint_hosts, fingerprint_runs;
         DELETE FROM group_fingerprints; DELETE FROM error_groups;",
    )
    .await
    .unwrap();
    let pending = client
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        pending.ungrouped_logs, 320,
        "the status field says what is left"
    );
    assert!(pending.groups.is_empty());

    // Two diagd start on it at once: both backfill, each log counts once.
    let second = TestServer::start_on(first.dbname.clone(), common::test_options()).await;
    let third = TestServer::start_on(first.dbname.clone(), common::test_options()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let groups = loop {
        let page = client
            .list_groups(pb::ListGroupsRequest::default())
            .await
            .unwrap()
            .into_inner();
        if page.ungrouped_logs == 0 {
            // (This page was read before the count: read it again.)
            break client
                .list_groups(pb::ListGroupsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .groups;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "backfill stalled: {page:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut counts: Vec<u64> = groups.iter().map(|g| g.event_count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [20, 300], "{groups:#?}");
    let oom = groups.iter().find(|g| g.event_count == 300).unwrap();
    assert_eq!(oom.hosts, 38);
    assert_eq!(
        get_group(&mut client, oom.id)
            .await
            .histogram
            .iter()
            .map(|b| b.count)
            .sum::<u64>(),
        300
    );
    // New logs join the backfilled groups.
    let id = report(&mut client, oom_log(7)).await;
    assert_eq!(group_of(&mut client, &id).await, oom.id);
    drop(third);
    drop(second);
}

/// Four streams of `batches` batches of 10 OOM logs each, at once.
async fn concurrent_ooms(server: &TestServer, batches: usize) -> u64 {
    let mut tasks = Vec::new();
    for stream in 0..4 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let batches: Vec<Vec<pb::NewLog>> = (0..batches)
                .map(|b| {
                    (0..10)
                        .map(|i| oom_log(stream * 100 + b * 10 + i))
                        .collect()
                })
                .collect();
            common::ingest(&mut client, batches).await.accepted
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap();
    }
    accepted
}

#[tokio::test]
async fn an_ignore_for_n_events_counts_every_event_of_concurrent_batches() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let id = report(&mut client, oom_log(0)).await;
    let group = group_of(&mut client, &id).await;
    update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Ignored as i32,
            ignore_events: 1000,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(concurrent_ooms(&server, 10).await, 400);
    let counted = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&counted), pb::GroupStatus::Ignored);
    assert_eq!(counted.ignored_events_left, 600, "every event counted once");
    assert_eq!(counted.event_count, 401);
    // 400 more than the 600 left: it must come back, whichever batch crosses.
    update(
        &mut client,
        pb::UpdateGroupRequest {
            id: group,
            status: pb::GroupStatus::Ignored as i32,
            ignore_events: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(concurrent_ooms(&server, 10).await, 400);
    let back = get_group(&mut client, group).await.group.unwrap();
    assert_eq!(status(&back), pb::GroupStatus::Unresolved);
    assert_eq!(back.event_count, 801);
    assert!(
        back.regressed_at.is_none(),
        "an ignore running out is no regression"
    );
}
