//! The runs part of `diagd bench` (issue #15): a fleet of training runs
//! beating at a steady rate — by default 10,000 runs × 8 members every 30 s,
//! about 2,700 heartbeats a second — with Heartbeat's latency measured under
//! that load, IngestLogs alongside it (against COPY of the same rows), and
//! how soon after the threshold diagd notices a member that went silent
//! (LOST) or whose step froze (STUCK).

use super::*;

/// Concurrent senders of the fleet's heartbeats.
const SENDERS: usize = 64;

fn beat(run: usize, member: usize, step: i64, interval_secs: i64) -> pb::HeartbeatRequest {
    pb::HeartbeatRequest {
        run_id: format!("bench-run-{run:05}"),
        host: format!("gpu-node-{:03}", (run * 8 + member) / 8 % 1000),
        rank: member as i32,
        pid: 10_000 + member as u32,
        phase: pb::RunPhase::Training as i32,
        step: Some(step),
        interval: Some(prost_types::Duration {
            seconds: interval_secs,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Runs the part: `runs` × `members` members beating every `interval`,
/// first registered, then measured for `measure`.
pub(super) async fn measure<F, Fut>(
    connect: &F,
    store: &Store,
    runs: usize,
    members: usize,
    interval: Duration,
    measure: Duration,
    alongside: std::ops::Range<usize>,
) -> Result<Vec<Figure>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<DiagnosticsServiceClient<Channel>, String>>,
{
    let total = runs * members;
    let rate = total as f64 / interval.as_secs_f64();
    eprintln!(
        "bench: {runs} runs x {members} members, a heartbeat each every {} s ({rate:.0}/s); registering them",
        interval.as_secs()
    );
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(connect().await?);
    }
    // Register every member once (as fast as it goes), then beat at the
    // fleet's rate for `measure`, each sender taking every SENDERS-th member.
    let started = Instant::now();
    let registered = send(&clients, runs, members, None, Duration::ZERO).await?;
    let register_time = started.elapsed();
    eprintln!(
        "bench: measuring heartbeats at {rate:.0}/s for {} s",
        measure.as_secs()
    );
    let mut times = send(&clients, runs, members, Some(rate), measure).await?;
    let sent = times.len();
    let mut figures = vec![
        Figure::new(
            format!(
                "runs: register {total} members ({runs} runs x {members}), one Heartbeat each, {SENDERS} concurrent"
            ),
            format!(
                "{:.0} heartbeats/s ({} in {:.1} s)",
                registered.len() as f64 / register_time.as_secs_f64(),
                registered.len(),
                register_time.as_secs_f64()
            ),
            "",
            Some("runs"),
        ),
        Figure::new(
            format!(
                "runs: Heartbeat latency while {total} members beat every {} s ({rate:.0}/s offered, {sent} sent in {} s)",
                interval.as_secs(),
                measure.as_secs()
            ),
            p50_p99(&mut times),
            "p99 < 10 ms",
            Some("runs"),
        ),
    ];
    // Ingest alongside the fleet, as the issue words it ("keeps >= 0.7 of
    // its COPY ratio"): IngestLogs 4 x 1000 against COPY of the same rows
    // (rolled back), first with the fleet quiet, then — other rows, as
    // many — while it beats; the second ratio over the first.
    let half = alongside.len() / 2;
    let quiet = alongside.start..alongside.start + half;
    let beating = alongside.start + half..alongside.end;
    eprintln!("bench: IngestLogs 4 x 1000 of {half} logs, the fleet quiet");
    let quiet_copy = super::workload::copy_rate(store, quiet.clone()).await?;
    let (quiet_stored, quiet_elapsed) =
        super::workload::ingest(connect, quiet, 1000, 4, false).await?;
    let quiet_ratio = quiet_stored as f64 / quiet_elapsed.as_secs_f64() / quiet_copy;
    eprintln!("bench: IngestLogs 4 x 1000 of {half} logs while the fleet beats at {rate:.0}/s");
    let copy = super::workload::copy_rate(store, beating.clone()).await?;
    let fleet = {
        let clients = clients.clone();
        tokio::spawn(async move {
            send(
                &clients,
                runs,
                members,
                Some(rate),
                Duration::from_secs(3600),
            )
            .await
        })
    };
    let (stored, elapsed) = super::workload::ingest(connect, beating, 1000, 4, false).await?;
    fleet.abort();
    let _ = fleet.await;
    let ingest_rate = stored as f64 / elapsed.as_secs_f64();
    let ratio = ingest_rate / copy;
    figures.push(Figure::new(
        format!(
            "runs: IngestLogs 4 x 1000 ({stored} logs) while {total} members beat ({rate:.0} heartbeats/s), its COPY ratio against the same with the fleet quiet"
        ),
        format!(
            "ratio {ratio:.2} ({ingest_rate:.0} vs COPY {copy:.0} logs/s) vs {quiet_ratio:.2} quiet: keeps {:.2}",
            ratio / quiet_ratio
        ),
        "keeps >= 0.7",
        Some("runs"),
    ));
    // Detection: a member that goes silent (1 s interval: LOST after 3 s)
    // and one whose step freezes (stuck_after 10 s), in a fleet this size.
    let mut client = connect().await?;
    let mut silent = beat(runs + 1, 0, 1, 1);
    silent.run_id = "bench-silent".into();
    client.heartbeat(silent).await.map_err(|e| e.to_string())?;
    let threshold = Instant::now() + Duration::from_secs(3);
    let lost = wait_for_state(&mut client, "bench-silent", pb::RunState::Lost, None).await?;
    figures.push(Figure::new(
        "runs: a member that goes silent (1 s interval) is LOST, after the 3 s threshold".into(),
        format!(
            "{:.2} s after the threshold",
            lost.saturating_duration_since(threshold).as_secs_f64()
        ),
        "< 5 s",
        Some("runs"),
    ));
    let mut frozen = beat(runs + 2, 0, 7, 1);
    frozen.run_id = "bench-frozen".into();
    frozen.stuck_after = Some(prost_types::Duration {
        seconds: 10,
        nanos: 0,
    });
    client
        .heartbeat(frozen.clone())
        .await
        .map_err(|e| e.to_string())?;
    let threshold = Instant::now() + Duration::from_secs(10);
    let stuck = wait_for_state(
        &mut client,
        "bench-frozen",
        pb::RunState::Stuck,
        Some(frozen),
    )
    .await?;
    figures.push(Figure::new(
        "runs: a member whose step freezes (heartbeats every 1 s) is STUCK, after the 10 s stuck_after".into(),
        format!("{:.2} s after the threshold", stuck.saturating_duration_since(threshold).as_secs_f64()),
        "< 5 s",
        Some("runs"),
    ));
    Ok(figures)
}

/// Sends one heartbeat per member (`rate`: None = as fast as it goes, once
/// each), or at `rate` per second until `duration` has passed; the latency
/// of each call.
async fn send(
    clients: &[DiagnosticsServiceClient<Channel>],
    runs: usize,
    members: usize,
    rate: Option<f64>,
    duration: Duration,
) -> Result<Vec<Duration>, String> {
    let total = runs * members;
    let started = Instant::now();
    // A JoinSet: when this future is dropped (the fleet beating alongside
    // another measurement is aborted), its senders stop with it.
    let mut tasks = tokio::task::JoinSet::new();
    for sender in 0..SENDERS {
        let mut client = clients[sender % clients.len()].clone();
        tasks.spawn(async move {
            let mut times = Vec::new();
            let mut next = sender;
            let mut round: i64 = 1;
            let pause = rate.map(|r| Duration::from_secs_f64(SENDERS as f64 / r));
            let mut due = Instant::now();
            loop {
                if next >= total {
                    if pause.is_none() {
                        break;
                    }
                    next = sender;
                    round += 1;
                }
                if let Some(pause) = pause {
                    if started.elapsed() >= duration {
                        break;
                    }
                    due += pause;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let request = beat(next / members, next % members, round, 30);
                let call = Instant::now();
                client.heartbeat(request).await.map_err(|e| e.to_string())?;
                times.push(call.elapsed());
                next += SENDERS;
            }
            Ok::<_, String>(times)
        });
    }
    let mut times = Vec::new();
    while let Some(task) = tasks.join_next().await {
        times.extend(task.map_err(|e| e.to_string())??);
    }
    Ok(times)
}

/// Waits (at most 60 s) until `run` is in `state`, beating `keep` every
/// second meanwhile; when it was seen so.
async fn wait_for_state(
    client: &mut DiagnosticsServiceClient<Channel>,
    run: &str,
    state: pb::RunState,
    keep: Option<pb::HeartbeatRequest>,
) -> Result<Instant, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut beat_at = Instant::now();
    loop {
        if let Some(keep) = &keep
            && Instant::now() >= beat_at
        {
            client
                .heartbeat(keep.clone())
                .await
                .map_err(|e| e.to_string())?;
            beat_at += Duration::from_secs(1);
        }
        let answer = client
            .get_run(pb::GetRunRequest { run_id: run.into() })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        if answer.run.is_some_and(|r| r.state == state as i32) {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(format!("{run} never became {state:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
