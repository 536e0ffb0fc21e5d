//! Training runs (issue #15, part 1): heartbeats through a real client, and
//! the states diagd derives from them by the database's clock — a member
//! whose step freezes while it keeps beating is STUCK (and named), one that
//! goes silent is LOST, FINISHED and FAILED are explicit; the states
//! survive a restart of diagd, two replicas record each change once, and
//! WatchRuns streams the changes. Bad input and unknown runs get clear
//! statuses.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, assert_status, test_options};
use diagd::api::pb;
use tokio_stream::StreamExt;
use tonic::Code;

fn beat(run: &str, rank: i32, step: Option<i64>) -> pb::HeartbeatRequest {
    pb::HeartbeatRequest {
        run_id: run.into(),
        host: "gpu-node-03".into(),
        rank,
        pid: 1000 + rank.max(0) as u32,
        phase: pb::RunPhase::Training as i32,
        step,
        interval: Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        }),
        stuck_after: Some(prost_types::Duration {
            seconds: 10,
            nanos: 0,
        }),
        ..Default::default()
    }
}

async fn get_run(client: &mut Client, run: &str) -> pb::GetRunResponse {
    client
        .get_run(pb::GetRunRequest { run_id: run.into() })
        .await
        .expect("GetRun")
        .into_inner()
}

/// Waits until run `run` is in `state` (at most `within`), beating `keep`
/// meanwhile each half second; the run then.
async fn wait_for(
    client: &mut Client,
    run: &str,
    state: pb::RunState,
    within: Duration,
    keep: &mut dyn FnMut() -> Vec<pb::HeartbeatRequest>,
) -> pb::GetRunResponse {
    let deadline = Instant::now() + within;
    loop {
        for request in keep() {
            client.heartbeat(request).await.expect("Heartbeat");
        }
        let answer = get_run(client, run).await;
        if answer.run.as_ref().unwrap().state == state as i32 {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} never became {state:?}: {answer:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_frozen_step_is_stuck_and_named_while_the_others_advance() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let answer = client
        .heartbeat(beat("llama-ft-42", 17, Some(12340)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.member_state, pb::RunState::Alive as i32);
    assert_eq!(answer.run_state, pb::RunState::Alive as i32);
    let mut step = 12340;
    let started = Instant::now();
    let stuck = wait_for(
        &mut client,
        "llama-ft-42",
        pb::RunState::Stuck,
        Duration::from_secs(30),
        &mut || {
            step += 1;
            vec![
                // Rank 17 keeps beating at the same step: a hang.
                beat("llama-ft-42", 17, Some(12340)),
                beat("llama-ft-42", 0, Some(step)),
                beat("llama-ft-42", 1, Some(step)),
            ]
        },
    )
    .await;
    // (The member's step last changed just before `started`.)
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "not before stuck_after: {:?}",
        started.elapsed()
    );
    let run = stuck.run.unwrap();
    assert_eq!((run.members, run.alive, run.stuck), (3, 2, 1), "{run:#?}");
    assert!(
        run.summary
            .starts_with("rank 17 on gpu-node-03 stuck at step 12340 while 2 members are at"),
        "{}",
        run.summary
    );
    assert_eq!(stuck.members[0].rank, 17, "the stuck member first");
    assert_eq!(stuck.members[0].state, pb::RunState::Stuck as i32);

    // Its step moves again: alive.
    client
        .heartbeat(beat("llama-ft-42", 17, Some(12341)))
        .await
        .unwrap();
    let run = get_run(&mut client, "llama-ft-42").await.run.unwrap();
    assert_eq!(run.state, pb::RunState::Alive as i32, "{run:#?}");
}

/// Heartbeats arriving together share a transaction; each member still
/// gets its own row and answer, and the runs' counts add up. Two runs, 24
/// members each, all beating at once, one of them twice, one finishing.
#[tokio::test]
async fn concurrent_heartbeats_are_recorded_each_with_its_own_answer() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let mut beats = tokio::task::JoinSet::new();
    for run in ["merged-a", "merged-b"] {
        for rank in 0..24 {
            let mut client = client.clone();
            let mut request = beat(run, rank, Some(100 + rank as i64));
            if run == "merged-b" && rank == 5 {
                request.phase = pb::RunPhase::Finished as i32;
            }
            beats.spawn(async move {
                let answer = client
                    .heartbeat(request.clone())
                    .await
                    .unwrap()
                    .into_inner();
                (request, answer)
            });
        }
    }
    // Rank 3 of run a beats a second time at once, at a later step.
    let mut again = client.clone();
    beats.spawn(async move {
        let request = beat("merged-a", 3, Some(104));
        let answer = again.heartbeat(request.clone()).await.unwrap().into_inner();
        (request, answer)
    });
    for (request, answer) in beats.join_all().await {
        let expected = if request.phase == pb::RunPhase::Finished as i32 {
            pb::RunState::Finished
        } else {
            pb::RunState::Alive
        };
        assert_eq!(answer.member_state, expected as i32, "{request:?}");
    }
    let mut client = client;
    let a = get_run(&mut client, "merged-a").await;
    let run = a.run.unwrap();
    assert_eq!((run.members, run.alive), (24, 24), "{run:#?}");
    assert_eq!(a.members.len(), 24);
    let b = get_run(&mut client, "merged-b").await.run.unwrap();
    assert_eq!((b.members, b.alive, b.finished), (24, 23, 1), "{b:#?}");
}

/// One transaction of beats in which a member beats twice (started, then
/// finished) beside two runs' other members: each beat is answered in
/// order, both of its changes are recorded, and its run ends up counting it
/// finished.
#[tokio::test]
async fn a_batch_with_a_member_beating_twice_records_both_beats_in_order() {
    use diagd::domain::run::{Heartbeat, RunPhase, RunState};
    let server = TestServer::start().await;
    let store = server.store().await;
    let beat = |run: &str, rank: i32, phase: RunPhase, step: i64| Heartbeat {
        run_id: run.into(),
        host: "gpu-node-07".into(),
        rank,
        pid: 4000 + rank as u32,
        phase,
        step: Some(step),
        epoch: None,
        metrics: Default::default(),
        interval: Duration::from_secs(30),
        stuck_after: None,
        message: String::new(),
    };
    let start = store.run_changes_start().await.expect("cursor");
    let answers = store
        .heartbeats_together(&[
            beat("batch-b", 1, RunPhase::Training, 10),
            beat("batch-a", 3, RunPhase::Training, 10),
            beat("batch-a", 0, RunPhase::Training, 10),
            beat("batch-a", 3, RunPhase::Finished, 11),
        ])
        .await
        .expect("heartbeats");
    assert_eq!(answers[0].0, RunState::Alive);
    assert_eq!(answers[1].0, RunState::Alive, "rank 3's first beat");
    assert_eq!(answers[2].0, RunState::Alive);
    assert_eq!(answers[3].0, RunState::Finished, "rank 3's second beat");
    let mut client = server.client().await;
    let a = get_run(&mut client, "batch-a").await;
    let run = a.run.unwrap();
    assert_eq!(
        (run.members, run.alive, run.finished),
        (2, 1, 1),
        "{run:#?}"
    );
    let three = a.members.iter().find(|m| m.rank == 3).expect("rank 3");
    assert_eq!(three.step, Some(11));
    // Its two changes, in order: new -> alive, alive -> finished.
    let (changes, _) = store
        .run_changes_after(&start, 100)
        .await
        .expect("run changes");
    let three: Vec<(Option<RunState>, RunState, Option<i64>)> = changes
        .iter()
        .filter(|c| c.run_id == "batch-a" && c.rank == 3)
        .map(|c| (c.from, c.to, c.step))
        .collect();
    assert_eq!(
        three,
        [
            (None, RunState::Alive, Some(10)),
            (Some(RunState::Alive), RunState::Finished, Some(11))
        ]
    );
    assert_eq!(changes.len(), 4, "{changes:#?}");
    let b = get_run(&mut client, "batch-b").await.run.unwrap();
    assert_eq!((b.members, b.alive), (1, 1));
}

#[tokio::test]
async fn a_silent_member_is_lost_and_an_ended_one_is_not() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for rank in 0..3 {
        client
            .heartbeat(beat("run-b", rank, Some(1)))
            .await
            .unwrap();
    }
    // Rank 0 finishes, rank 1 fails with a reason, rank 2 goes silent.
    let mut finished = beat("run-b", 0, Some(2));
    finished.phase = pb::RunPhase::Finished as i32;
    let answer = client.heartbeat(finished).await.unwrap().into_inner();
    assert_eq!(answer.member_state, pb::RunState::Finished as i32);
    let lost = wait_for(
        &mut client,
        "run-b",
        pb::RunState::Lost,
        Duration::from_secs(15),
        &mut Vec::new,
    )
    .await;
    // The run is LOST as soon as one member is; the sweep may see the other
    // silent member (heard a few milliseconds later) a pass later.
    let mut run = lost.run.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while run.lost < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        run = get_run(&mut client, "run-b").await.run.unwrap();
    }
    assert_eq!((run.lost, run.finished), (2, 1), "{run:#?}");
    assert!(run.summary.contains("lost"), "{}", run.summary);

    let mut failed = beat("run-b", 1, Some(2));
    failed.phase = pb::RunPhase::Failed as i32;
    failed.message = "RuntimeError: CUDA error: an illegal memory access".into();
    client.heartbeat(failed).await.unwrap();
    let answer = get_run(&mut client, "run-b").await;
    let run = answer.run.unwrap();
    assert_eq!(run.state, pb::RunState::Failed as i32);
    assert_eq!(
        run.summary,
        "rank 1 on gpu-node-03 failed at step 2: RuntimeError: CUDA error: an illegal memory access"
    );
    // Ended members are never swept into LOST.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let answer = get_run(&mut client, "run-b").await;
    let states: Vec<(i32, i32)> = answer.members.iter().map(|m| (m.rank, m.state)).collect();
    assert!(
        states.contains(&(0, pb::RunState::Finished as i32)),
        "{states:?}"
    );
    assert!(
        states.contains(&(1, pb::RunState::Failed as i32)),
        "{states:?}"
    );
    assert!(
        states.contains(&(2, pb::RunState::Lost as i32)),
        "{states:?}"
    );

    // Listing: by state, newest heartbeat first.
    client.heartbeat(beat("run-c", 0, Some(1))).await.unwrap();
    let listed = client
        .list_runs(pb::ListRunsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["run-c", "run-b"]);
    let failed = client
        .list_runs(pb::ListRunsRequest {
            states: vec![pb::RunState::Failed as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.runs.len(), 1);
    assert_eq!(failed.runs[0].run_id, "run-b");
    // Keyset pages.
    let first = client
        .list_runs(pb::ListRunsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.runs[0].run_id, "run-c");
    let second = client
        .list_runs(pb::ListRunsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.runs[0].run_id, "run-b");
    assert!(second.next_page_token.is_empty());
}

#[tokio::test]
async fn states_survive_a_restart_and_two_replicas_record_each_change_once() {
    let mut first = TestServer::start().await;
    let dbname = first.dbname.clone();
    let mut client = first.client().await;
    client.heartbeat(beat("run-r", 0, Some(5))).await.unwrap();
    client.heartbeat(beat("run-r", 1, Some(5))).await.unwrap();
    let mut watch = client
        .watch_runs(pb::WatchRunsRequest {
            run_ids: vec!["run-r".into()],
        })
        .await
        .unwrap()
        .into_inner();
    // A second replica on the same database: both sweep, one at a time.
    let mut second = TestServer::start_on(dbname.clone(), test_options()).await;
    let mut other = second.client().await;
    let lost = wait_for(
        &mut other,
        "run-r",
        pb::RunState::Lost,
        Duration::from_secs(15),
        &mut || vec![beat("run-r", 1, Some(6))],
    )
    .await;
    assert_eq!(lost.run.as_ref().unwrap().lost, 1);
    // WatchRuns (on the first replica) saw rank 0 become LOST.
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let message = watch.next().await.expect("a change").expect("ok");
            let change = message.change.unwrap();
            if change.to_state == pb::RunState::Lost as i32 {
                return change;
            }
        }
    })
    .await
    .expect("WatchRuns streams the change");
    assert_eq!((change.rank, change.host.as_str()), (0, "gpu-node-03"));
    assert_eq!(change.from_state, pb::RunState::Alive as i32);
    assert_eq!(change.run.unwrap().state, pb::RunState::Lost as i32);

    // Exactly one recorded change to LOST, though two replicas sweep.
    let database = common::connect_database(&second).await;
    let changes: i64 = database
        .query_one(
            "SELECT count(*) FROM run_changes WHERE run_id = 'run-r' AND rank = 0 AND to_state = 'lost'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(changes, 1);

    // Restart: the state is in the database, not in diagd. (Stopped, not
    // dropped: a dropped test server drops its database.)
    drop(watch);
    drop(client);
    drop(other);
    first.stop();
    second.stop();
    let third = TestServer::start_on(dbname, test_options()).await;
    let answer = get_run(&mut third.client().await, "run-r").await;
    let states: Vec<(i32, i32)> = answer.members.iter().map(|m| (m.rank, m.state)).collect();
    assert!(
        states.contains(&(0, pb::RunState::Lost as i32)),
        "{states:?}"
    );
}

#[tokio::test]
async fn bad_heartbeats_and_unknown_runs_are_refused_clearly() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert_status(
        client.heartbeat(beat("", 0, None)).await,
        Code::InvalidArgument,
        "run_id",
    );
    let mut no_host = beat("r", 0, None);
    no_host.host = String::new();
    assert_status(
        client.heartbeat(no_host).await,
        Code::InvalidArgument,
        "host",
    );
    assert_status(
        client.heartbeat(beat("r", -2, None)).await,
        Code::InvalidArgument,
        "rank",
    );
    let mut fast = beat("r", 0, None);
    fast.interval = Some(prost_types::Duration {
        seconds: 0,
        nanos: 1000,
    });
    assert_status(
        client.heartbeat(fast).await,
        Code::InvalidArgument,
        "interval",
    );
    let mut eager = beat("r", 0, None);
    eager.stuck_after = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    assert_status(
        client.heartbeat(eager).await,
        Code::InvalidArgument,
        "stuck_after",
    );
    let mut many = beat("r", 0, None);
    many.metrics = (0..33).map(|i| (format!("m{i}"), 1.0)).collect();
    assert_status(
        client.heartbeat(many).await,
        Code::InvalidArgument,
        "metrics",
    );
    let mut nan = beat("r", 0, None);
    nan.metrics.insert("loss".into(), f64::NAN);
    assert_status(client.heartbeat(nan).await, Code::InvalidArgument, "loss");
    assert_status(
        client
            .get_run(pb::GetRunRequest {
                run_id: "never-seen".into(),
            })
            .await,
        Code::NotFound,
        "never-seen",
    );
    assert_status(
        client
            .list_runs(pb::ListRunsRequest {
                page_token: "garbage".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        client
            .list_runs(pb::ListRunsRequest {
                states: vec![99],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "states[0]",
    );
}

#[tokio::test]
async fn a_run_shows_its_error_groups_and_recent_actions() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    client.heartbeat(beat("run-g", 0, Some(1))).await.unwrap();
    let mut log = common::new_log(
        "torch.OutOfMemoryError: CUDA out of memory",
        pb::Severity::High,
        pb::ErrorType::Oom,
    );
    log.source = Some(pb::Source {
        run_id: "run-g".into(),
        host: "gpu-node-03".into(),
        ..Default::default()
    });
    common::report(&mut client, log).await;
    client
        .record_action(pb::RecordActionRequest {
            action: "resume_from_checkpoint".into(),
            source: Some(pb::Source {
                run_id: "run-g".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let answer = get_run(&mut client, "run-g").await;
    assert_eq!(answer.groups.len(), 1, "{answer:#?}");
    assert!(answer.groups[0].title.contains("OutOfMemoryError"));
    assert_eq!(answer.recent_actions.len(), 1);
    assert_eq!(answer.recent_actions[0].action, "resume_from_checkpoint");
}

#[tokio::test]
async fn a_critical_error_from_a_member_fails_it() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for rank in 0..2 {
        client
            .heartbeat(beat("run-x", rank, Some(3)))
            .await
            .unwrap();
    }
    let from = |rank: &str, severity: pb::Severity, message: &str| {
        let mut log = common::new_log(message, severity, pb::ErrorType::Training);
        log.source = Some(pb::Source {
            run_id: "run-x".into(),
            host: "gpu-node-03".into(),
            labels: [("rank".to_string(), rank.to_string())].into(),
            ..Default::default()
        });
        log
    };
    // A HIGH error does not end a member; a CRITICAL one of another host or
    // rank fails no one here.
    common::report(&mut client, from("0", pb::Severity::High, "loss spiked")).await;
    common::report(
        &mut client,
        from("7", pb::Severity::Critical, "not a member"),
    )
    .await;
    let run = get_run(&mut client, "run-x").await.run.unwrap();
    assert_eq!(run.state, pb::RunState::Alive as i32, "{run:#?}");
    common::report(
        &mut client,
        from(
            "1",
            pb::Severity::Critical,
            "NCCL watchdog timeout on rank 1",
        ),
    )
    .await;
    let answer = get_run(&mut client, "run-x").await;
    let run = answer.run.unwrap();
    assert_eq!(run.state, pb::RunState::Failed as i32, "{run:#?}");
    assert_eq!(
        run.summary,
        "rank 1 on gpu-node-03 failed at step 3: NCCL watchdog timeout on rank 1"
    );
    assert_eq!(answer.members[0].rank, 1);
    assert_eq!(answer.members[0].state, pb::RunState::Failed as i32);
    assert_eq!(answer.members[1].state, pb::RunState::Alive as i32);
    // Failed stays failed while the process goes on beating…
    let still = client
        .heartbeat(beat("run-x", 1, Some(4)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.member_state, pb::RunState::Failed as i32);
    let mut starting = beat("run-x", 1, Some(4));
    starting.phase = pb::RunPhase::Starting as i32;
    let same_process = client.heartbeat(starting).await.unwrap().into_inner();
    assert_eq!(
        same_process.member_state,
        pb::RunState::Failed as i32,
        "the same process saying STARTING is not a restart"
    );
    let member = get_run(&mut client, "run-x")
        .await
        .members
        .into_iter()
        .find(|m| m.rank == 1)
        .unwrap();
    assert_eq!(
        member.message, "NCCL watchdog timeout on rank 1",
        "a failed member keeps why"
    );
    // …until a new process of the rank starts.
    let mut restarted = beat("run-x", 1, Some(0));
    restarted.phase = pb::RunPhase::Starting as i32;
    restarted.pid = 99_999;
    let again = client.heartbeat(restarted).await.unwrap().into_inner();
    assert_eq!(again.member_state, pb::RunState::Alive as i32);
}

#[tokio::test]
async fn a_beat_revives_a_lost_member_and_a_finish_ends_a_stuck_one() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    client.heartbeat(beat("run-v", 0, Some(1))).await.unwrap();
    client.heartbeat(beat("run-v", 1, Some(1))).await.unwrap();
    // Rank 0 goes silent and is lost, rank 1 keeps its step: stuck.
    let mut keep = || vec![beat("run-v", 1, Some(1))];
    wait_for(
        &mut client,
        "run-v",
        pb::RunState::Lost,
        Duration::from_secs(15),
        &mut keep,
    )
    .await;
    // A lost member that beats again is alive (its step is the same).
    let back = client
        .heartbeat(beat("run-v", 0, Some(1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.member_state, pb::RunState::Alive as i32);
    let stuck = wait_for(
        &mut client,
        "run-v",
        pb::RunState::Stuck,
        Duration::from_secs(30),
        &mut || vec![beat("run-v", 0, Some(1)), beat("run-v", 1, Some(1))],
    )
    .await;
    assert!(
        stuck
            .members
            .iter()
            .all(|m| m.state == pb::RunState::Stuck as i32)
    );
    // Stuck stays stuck while the step stays; FINISHED ends it.
    let same = client
        .heartbeat(beat("run-v", 1, Some(1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.member_state, pb::RunState::Stuck as i32);
    let mut done = beat("run-v", 1, Some(1));
    done.phase = pb::RunPhase::Finished as i32;
    let done = client.heartbeat(done).await.unwrap().into_inner();
    assert_eq!(done.member_state, pb::RunState::Finished as i32);
}
