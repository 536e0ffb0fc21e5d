//! Training runs in PostgreSQL: heartbeats (a member's row and its run's,
//! one transaction), members failed by their own CRITICAL logs (in the
//! logs' insert transaction), the liveness sweep that marks members stuck or lost by
//! the database's clock (one replica at a time, under [`RUNS_SWEEP_LOCK`]),
//! each run's counts and summary (refreshed whenever a member's state
//! changes), listing and reading runs, and the recorded state changes that
//! WatchRuns streams. Nothing here keeps time in diagd: every "now" is
//! PostgreSQL's, so replicas agree and a restart loses nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Store, StoreError};
use crate::domain::run::{
    DEFAULT_STUCK_AFTER, Heartbeat, LOST_AFTER_INTERVALS, Run, RunChange, RunCursor, RunFilter,
    RunMember, RunPhase, RunState, StateCounts, summary,
};

/// Advisory lock of the liveness sweep: one replica sweeps at a time
/// ("runsweep" in ASCII).
const RUNS_SWEEP_LOCK: i64 = 0x7275_6e73_7765_6570;

/// Members a run's summary names at most.
const NAMED_MEMBERS: i64 = 3;

/// Runs one sweep refreshes at most (the rest wait for the next sweep).
const SWEEP_RUNS: usize = 1000;

/// Where a reader of recorded changes is: after this transaction's change
/// `id` (transactions in order, then ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor {
    /// The transaction (xid8, as text).
    pub xid: String,
    /// The change.
    pub id: i64,
}

/// Members GetRun returns at most.
pub const MAX_MEMBERS: i64 = 10_000;

/// Bytes of members GetRun returns at most (about).
const MAX_MEMBER_BYTES: usize = 2 * 1024 * 1024;

const RUN_COLUMNS: &str = "run_id, state, summary, started_at, last_heartbeat, state_changed_at,
       stuck_after_secs, alive, stuck, lost, finished, failed, max_step, min_step";

const MEMBER_COLUMNS: &str = "host, rank, pid, state, phase, step, epoch, metrics,
       first_heartbeat, last_heartbeat, step_changed_at, state_changed_at, interval_secs, message";

fn state(name: &str) -> Result<RunState, StoreError> {
    RunState::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown run state {name:?}")))
}

fn count(row: &Row, column: &str) -> Result<u32, StoreError> {
    Ok(row.try_get::<_, i32>(column)?.max(0) as u32)
}

fn row_to_run(row: &Row) -> Result<Run, StoreError> {
    let mut run = Run {
        run_id: row.try_get("run_id")?,
        state: state(row.try_get("state")?)?,
        summary: row.try_get("summary")?,
        started_at: row.try_get("started_at")?,
        last_heartbeat: row.try_get("last_heartbeat")?,
        state_changed_at: row.try_get("state_changed_at")?,
        stuck_after: Duration::from_secs_f64(row.try_get::<_, f64>("stuck_after_secs")?.max(0.0)),
        counts: StateCounts {
            alive: count(row, "alive")?,
            stuck: count(row, "stuck")?,
            lost: count(row, "lost")?,
            finished: count(row, "finished")?,
            failed: count(row, "failed")?,
        },
        max_step: row.try_get("max_step")?,
        min_step: row.try_get("min_step")?,
    };
    // A heartbeat that changes no state moves the run's highest step only;
    // an alive run's line is made from it as it is read.
    if run.state == RunState::Alive {
        run.summary = summary(RunState::Alive, &run.counts, &[], run.max_step);
    }
    Ok(run)
}

fn row_to_member(row: &Row) -> Result<RunMember, StoreError> {
    let metrics: serde_json::Value = row.try_get("metrics")?;
    Ok(RunMember {
        host: row.try_get("host")?,
        rank: row.try_get("rank")?,
        pid: row.try_get::<_, i64>("pid")?.clamp(0, u32::MAX as i64) as u32,
        state: state(row.try_get("state")?)?,
        phase: RunPhase::parse(row.try_get("phase")?),
        step: row.try_get("step")?,
        epoch: row.try_get("epoch")?,
        metrics: metrics
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                    .collect()
            })
            .unwrap_or_default(),
        first_heartbeat: row.try_get("first_heartbeat")?,
        last_heartbeat: row.try_get("last_heartbeat")?,
        step_changed_at: row.try_get("step_changed_at")?,
        state_changed_at: row.try_get("state_changed_at")?,
        interval: Duration::from_secs_f64(row.try_get::<_, f64>("interval_secs")?.max(0.0)),
        message: row.try_get("message")?,
    })
}

/// Recounts run `run_id` from its members, names the members behind and
/// stores its state and summary; the run as it is now.
async fn refresh_run(client: &impl GenericClient, run_id: &str) -> Result<Run, StoreError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'alive')::int AS alive,
                    count(*) FILTER (WHERE state = 'stuck')::int AS stuck,
                    count(*) FILTER (WHERE state = 'lost')::int AS lost,
                    count(*) FILTER (WHERE state = 'finished')::int AS finished,
                    count(*) FILTER (WHERE state = 'failed')::int AS failed,
                    max(step) AS max_step,
                    min(step) FILTER (WHERE state IN ('alive', 'stuck')) AS min_step,
                    max(step) FILTER (WHERE state = 'alive') AS alive_step
             FROM run_members WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    let counts = StateCounts {
        alive: count(&row, "alive")?,
        stuck: count(&row, "stuck")?,
        lost: count(&row, "lost")?,
        finished: count(&row, "finished")?,
        failed: count(&row, "failed")?,
    };
    let run_state = counts.run_state();
    let behind = if matches!(
        run_state,
        RunState::Stuck | RunState::Lost | RunState::Failed
    ) {
        client
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM run_members
                     WHERE run_id = $1 AND state = $2
                     ORDER BY state_changed_at, rank, host LIMIT $3"
                ),
                &[&run_id, &run_state.as_str(), &NAMED_MEMBERS],
            )
            .await?
            .iter()
            .map(row_to_member)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let alive_step: Option<i64> = row.try_get("alive_step")?;
    let line = summary(run_state, &counts, &behind, alive_step);
    let max_step: Option<i64> = row.try_get("max_step")?;
    let min_step: Option<i64> = row.try_get("min_step")?;
    let updated = client
        .query_one(
            &format!(
                "UPDATE runs SET
                    state_changed_at = CASE WHEN state <> $2 THEN now() ELSE state_changed_at END,
                    state = $2, summary = $3, members = $4, alive = $5, stuck = $6, lost = $7,
                    finished = $8, failed = $9, max_step = $10, min_step = $11
                 WHERE run_id = $1
                 RETURNING {RUN_COLUMNS}"
            ),
            &[
                &run_id,
                &run_state.as_str(),
                &line,
                &(counts.total() as i32),
                &(counts.alive as i32),
                &(counts.stuck as i32),
                &(counts.lost as i32),
                &(counts.finished as i32),
                &(counts.failed as i32),
                &max_step,
                &min_step,
            ],
        )
        .await?;
    row_to_run(&updated)
}

/// A CRITICAL log of a run's member, which fails it.
#[derive(Debug, Clone)]
pub(super) struct CriticalLog {
    /// The log's run.
    pub run_id: String,
    /// The log's host.
    pub host: String,
    /// The log's `rank` label; `None`: the members of that host without a
    /// rank.
    pub rank: Option<i32>,
    /// The log's message (the member's `message`).
    pub message: String,
    /// The log's `pid` label: without a rank, only that process fails.
    pub pid: Option<i64>,
}

/// Marks the members that logged a CRITICAL error in this transaction as
/// FAILED (with the log's message), records the changes and refreshes the
/// runs. Runs are locked before members, as everywhere.
pub(super) async fn fail_members(
    client: &impl GenericClient,
    logs: &[CriticalLog],
) -> Result<(), StoreError> {
    let run_ids: Vec<&str> = logs.iter().map(|l| l.run_id.as_str()).collect();
    let hosts: Vec<&str> = logs.iter().map(|l| l.host.as_str()).collect();
    let ranks: Vec<i32> = logs.iter().map(|l| l.rank.unwrap_or(-1)).collect();
    let pids: Vec<Option<i64>> = logs.iter().map(|l| l.pid).collect();
    let messages: Vec<String> = logs
        .iter()
        .map(|l| crate::domain::fingerprint::head(&l.message, 1024).to_string())
        .collect();
    let locked = client
        .query(
            // Byte order (COLLATE "C"), as a batch of heartbeats sorts its
            // runs in Rust, whatever the database's collation.
            "SELECT run_id FROM runs WHERE run_id = ANY($1) ORDER BY run_id COLLATE \"C\" FOR UPDATE",
            &[&run_ids],
        )
        .await?;
    if locked.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            "WITH critical AS (
                SELECT DISTINCT ON (run_id, host, rank, pid) run_id, host, rank, pid, message
                FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[])
                     AS t(run_id, host, rank, message, pid)
             ), old AS (
                SELECT m.run_id, m.host, m.rank, m.key_pid, m.state, c.message
                FROM run_members m JOIN critical c USING (run_id, host, rank)
                WHERE m.state IN ('alive', 'stuck', 'lost')
                  AND (c.rank >= 0 OR c.pid IS NULL OR m.key_pid = c.pid)
                FOR UPDATE OF m
             ), moved AS (
                UPDATE run_members m
                SET state = 'failed', state_changed_at = now(), message = old.message
                FROM old
                WHERE m.run_id = old.run_id AND m.host = old.host AND m.rank = old.rank
                  AND m.key_pid = old.key_pid
                RETURNING m.run_id, m.host, m.rank, old.state AS from_state, m.step
             )
             INSERT INTO run_changes (run_id, host, rank, from_state, to_state, step)
             SELECT run_id, host, rank, from_state, 'failed', step FROM moved
             RETURNING run_id",
            &[&run_ids, &hosts, &ranks, &messages, &pids],
        )
        .await?;
    let mut runs: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()?;
    runs.sort();
    runs.dedup();
    for run_id in &runs {
        refresh_run(client, run_id).await?;
    }
    Ok(())
}

/// Recorded changes after `after` (see [`Store::run_changes_after`]), read
/// with `client` (the alert evaluator's transaction, or a reader).
pub(super) async fn changes_after(
    client: &impl GenericClient,
    after: &ChangeCursor,
    limit: usize,
) -> Result<(Vec<RunChange>, ChangeCursor), StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT c.id, c.xid::text AS change_xid, c.host AS change_host,
                        c.rank AS change_rank, c.from_state, c.to_state, c.step AS change_step,
                        c.changed_at, {}
                 FROM run_changes c JOIN runs r ON r.run_id = c.run_id
                 WHERE (c.xid, c.id) > ($1::text::xid8, $2)
                   AND c.xid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY c.xid, c.id LIMIT $3",
                RUN_COLUMNS
                    .split(',')
                    .map(|c| format!("r.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[&after.xid, &after.id, &(limit as i64)],
        )
        .await?;
    let mut cursor = after.clone();
    let changes = rows
        .iter()
        .map(|row| {
            let run = row_to_run(row)?;
            let from: String = row.try_get("from_state")?;
            cursor = ChangeCursor {
                xid: row.try_get("change_xid")?,
                id: row.try_get("id")?,
            };
            Ok(RunChange {
                id: row.try_get("id")?,
                run_id: run.run_id.clone(),
                host: row.try_get("change_host")?,
                rank: row.try_get("change_rank")?,
                // A new member's first state has no "before".
                from: RunState::parse(&from),
                to: state(row.try_get("to_state")?)?,
                step: row.try_get("change_step")?,
                changed_at: row.try_get("changed_at")?,
                run,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((changes, cursor))
}

impl Store {
    /// Records a heartbeat: the member's row (created on its first) and its
    /// state after it, its run's latest heartbeat; when the member's state
    /// moved, a recorded change and the run's counts and summary. Returns
    /// the member's state and the run's. Heartbeats arriving together share
    /// one transaction (`merged`: a group commit).
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(RunState, RunState), StoreError> {
        let size = 256
            + beat.run_id.len()
            + beat.host.len()
            + beat.message.len()
            + beat.metrics.keys().map(|k| k.len() + 16).sum::<usize>();
        self.merged(&super::merged::HEARTBEATS, beat.clone(), size)
            .await
    }

    /// [`Store::heartbeats`] for tests: these beats in one transaction,
    /// whatever else is queued.
    #[cfg(any(test, feature = "testing"))]
    pub async fn heartbeats_together(
        &self,
        beats: &[Heartbeat],
    ) -> Result<Vec<(RunState, RunState)>, StoreError> {
        self.heartbeats(beats).await
    }

    /// Records heartbeats in one transaction (see [`Store::heartbeat`]),
    /// answering each in order. A batch without changes of state costs two
    /// set-based statements (runs, then members: each member found by a
    /// LATERAL primary-key probe, so that the generic plan, which cannot
    /// know how many beats the arrays hold, never scans every member), sent
    /// together, and the commit.
    pub(super) async fn heartbeats(
        &self,
        beats: &[Heartbeat],
    ) -> Result<Vec<(RunState, RunState)>, StoreError> {
        // Runs, then members, in key order: concurrent transactions lock
        // them in the same order (a member beating twice keeps its order).
        let key = |i: usize| {
            let b = &beats[i];
            (b.run_id.as_str(), b.host.as_str(), b.rank, b.key_pid())
        };
        let mut order: Vec<usize> = (0..beats.len()).collect();
        order.sort_by_key(|&i| key(i));
        // A member beating twice in one batch: its beats (next to each other
        // in key order) go in rounds, one per statement pair, in order (a
        // statement sees each row once).
        let mut round_of = vec![0; beats.len()];
        let mut rounds: Vec<Vec<usize>> = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            if k > 0 && key(order[k - 1]) == key(i) {
                round_of[i] = round_of[order[k - 1]] + 1;
            }
            if rounds.len() <= round_of[i] {
                rounds.push(Vec::new());
            }
            rounds[round_of[i]].push(i);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One row per run of the round, in byte order (as every writer
        // locks runs).
        let run_statement = tx
            .prepare_cached(
                "WITH beat AS (
                    SELECT run_id, max(stuck_after) AS stuck_after, max(step) AS step
                    FROM unnest($1::text[], $2::float8[], $3::int8[]) AS t(run_id, stuck_after, step)
                    GROUP BY run_id
                 )
                 INSERT INTO runs AS r (run_id, state, started_at, last_heartbeat, state_changed_at,
                                        stuck_after_secs, max_step)
                 SELECT run_id, 'alive', now(), now(), now(), COALESCE(stuck_after, $4::float8), step
                 FROM beat
                 ORDER BY run_id COLLATE \"C\"
                 ON CONFLICT (run_id) DO UPDATE SET
                    -- To within 10 s (an indexed column: moving it on every
                    -- heartbeat would cost an index entry each time).
                    last_heartbeat = CASE WHEN r.last_heartbeat < now() - interval '10 seconds'
                                          THEN now() ELSE r.last_heartbeat END,
                    stuck_after_secs = COALESCE((SELECT b.stuck_after FROM beat b
                                                 WHERE b.run_id = EXCLUDED.run_id),
                                                r.stuck_after_secs),
                    max_step = GREATEST(r.max_step, EXCLUDED.max_step)
                 RETURNING run_id, state",
            )
            .await?;
        // Each member's state after its beat is decided here, once, from its
        // row as it was (locked, in key order; none for a new member):
        // - FINISHED or FAILED ends it;
        // - an ended member stays ended, and keeps why, unless a new process
        //   of it (another pid) says STARTING: a restarted rank;
        // - stuck stays stuck until the step moves (or none is sent);
        // - otherwise it is alive.
        let member_statement = tx
            .prepare_cached(
                "WITH beat AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::int8[],
                                         $6::text[], $7::int8[], $8::float8[], $9::jsonb[],
                                         $10::float8[], $11::text[], $12::int8[])
                        AS t(run_id, host, rank, key_pid, pid, phase, step, epoch, metrics,
                             interval_secs, message, position)
                 ), old AS (
                    -- One primary-key probe per beat (LATERAL: whatever the
                    -- plan's guess of the arrays' length, never a scan of
                    -- every member); locked under its run's lock, taken
                    -- above in byte order.
                    SELECT m.run_id, m.host, m.rank, m.key_pid, m.state, m.step, m.pid, m.message
                    FROM beat b CROSS JOIN LATERAL (
                        SELECT * FROM run_members m
                        WHERE m.run_id = b.run_id AND m.host = b.host AND m.rank = b.rank
                          AND m.key_pid = b.key_pid
                        FOR UPDATE
                    ) m
                 ), next AS (
                    SELECT b.*, o.state AS old_state, o.step AS old_step, o.message AS old_message,
                           o.state IN ('finished', 'failed') AND b.phase NOT IN ('finished', 'failed')
                             AND NOT (b.phase = 'starting' AND o.pid <> b.pid) AS stays_ended
                    FROM beat b LEFT JOIN old o USING (run_id, host, rank, key_pid)
                 ), decided AS (
                    SELECT next.*,
                           CASE
                             WHEN phase IN ('finished', 'failed') THEN phase
                             WHEN stays_ended THEN old_state
                             WHEN old_state = 'stuck' AND step IS NOT NULL
                                  AND old_step IS NOT DISTINCT FROM step THEN 'stuck'
                             ELSE 'alive'
                           END AS new_state,
                           CASE WHEN stays_ended THEN old_message ELSE message END AS new_message
                    FROM next
                 ), new AS (
                    INSERT INTO run_members AS m (run_id, host, rank, key_pid, pid, state, phase, step,
                            epoch, metrics, first_heartbeat, last_heartbeat, step_changed_at,
                            state_changed_at, interval_secs, message)
                    SELECT run_id, host, rank, key_pid, pid, new_state, phase, step, epoch, metrics,
                           now(), now(), now(), now(), interval_secs, new_message
                    FROM decided
                    ORDER BY run_id COLLATE \"C\", host COLLATE \"C\", rank, key_pid
                    ON CONFLICT (run_id, host, rank, key_pid) DO UPDATE SET
                       pid = EXCLUDED.pid, phase = EXCLUDED.phase, epoch = EXCLUDED.epoch,
                       metrics = EXCLUDED.metrics, last_heartbeat = now(),
                       step_changed_at = CASE WHEN m.step IS DISTINCT FROM EXCLUDED.step
                                              THEN now() ELSE m.step_changed_at END,
                       step = EXCLUDED.step,
                       state = EXCLUDED.state,
                       state_changed_at = CASE WHEN m.state <> EXCLUDED.state
                                               THEN now() ELSE m.state_changed_at END,
                       interval_secs = EXCLUDED.interval_secs,
                       message = EXCLUDED.message
                    RETURNING m.run_id, m.host, m.rank, m.key_pid, m.state
                 )
                 SELECT d.position, d.old_state, n.state
                 FROM decided d JOIN new n USING (run_id, host, rank, key_pid)",
            )
            .await?;
        /// One round's columns.
        #[derive(Default)]
        struct Columns<'a> {
            run_ids: Vec<&'a str>,
            hosts: Vec<&'a str>,
            ranks: Vec<i32>,
            key_pids: Vec<i64>,
            pids: Vec<i64>,
            phases: Vec<&'a str>,
            steps: Vec<Option<i64>>,
            epochs: Vec<Option<f64>>,
            metrics: Vec<serde_json::Value>,
            intervals: Vec<f64>,
            messages: Vec<&'a str>,
            positions: Vec<i64>,
            stuck_after: Vec<Option<f64>>,
        }
        let columns: Vec<Columns<'_>> = rounds
            .iter()
            .map(|round| {
                let mut c = Columns::default();
                for &i in round {
                    let beat = &beats[i];
                    c.run_ids.push(&beat.run_id);
                    c.hosts.push(&beat.host);
                    c.ranks.push(beat.rank);
                    c.key_pids.push(beat.key_pid());
                    c.pids.push(beat.pid as i64);
                    c.phases.push(beat.phase.as_str());
                    c.steps.push(beat.step);
                    c.epochs.push(beat.epoch);
                    c.metrics.push(serde_json::Value::Object(
                        beat.metrics
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                            .collect(),
                    ));
                    c.intervals.push(beat.interval.as_secs_f64());
                    c.messages.push(&beat.message);
                    c.positions.push(i as i64);
                    c.stuck_after
                        .push(beat.stuck_after.map(|d| d.as_secs_f64()));
                }
                c
            })
            .collect();
        let default_stuck_after = DEFAULT_STUCK_AFTER.as_secs_f64();
        type Params<'a, const N: usize> = [&'a (dyn tokio_postgres::types::ToSql + Sync); N];
        let run_params: Vec<Params<'_, 4>> = columns
            .iter()
            .map(|c| -> Params<'_, 4> {
                [&c.run_ids, &c.stuck_after, &c.steps, &default_stuck_after]
            })
            .collect();
        let member_params: Vec<Params<'_, 12>> = columns
            .iter()
            .map(|c| -> Params<'_, 12> {
                [
                    &c.run_ids,
                    &c.hosts,
                    &c.ranks,
                    &c.key_pids,
                    &c.pids,
                    &c.phases,
                    &c.steps,
                    &c.epochs,
                    &c.metrics,
                    &c.intervals,
                    &c.messages,
                    &c.positions,
                ]
            })
            .collect();
        // A heartbeat that changes no state only moves times and the step,
        // which the next heartbeat moves again: it commits without waiting
        // for the WAL flush (PostgreSQL crashing at that moment loses at
        // most its last ~0.6 s of such heartbeats; diagd's own crash loses
        // nothing). A change of state waits for the flush, as everything
        // else does (set back below).
        let asynchronous = tx
            .prepare_cached("SELECT set_config('synchronous_commit', 'off', true)")
            .await?;
        // Sent together (pipelined), in order: the setting, then each
        // round's runs and its members.
        let results = futures_util::future::try_join_all(
            std::iter::once(tx.query(&asynchronous, &[])).chain(
                run_params
                    .iter()
                    .zip(&member_params)
                    .flat_map(|(run, member)| {
                        [
                            tx.query(&run_statement, run),
                            tx.query(&member_statement, member),
                        ]
                    }),
            ),
        )
        .await?;
        // Per beat: its member's state before it, and the answer.
        type Written = (Option<RunState>, (RunState, RunState));
        let mut written: Vec<Option<Written>> = vec![None; beats.len()];
        for (round, pair) in results[1..].chunks(2).enumerate() {
            let run_states = pair[0]
                .iter()
                .map(|row| Ok((row.try_get::<_, String>(0)?, state(row.try_get(1)?)?)))
                .collect::<Result<std::collections::HashMap<String, RunState>, StoreError>>()?;
            for row in &pair[1] {
                let i = usize::try_from(row.try_get::<_, i64>(0)?)
                    .ok()
                    .filter(|&i| i < beats.len() && round_of[i] == round)
                    .ok_or_else(|| {
                        StoreError::Corrupt("a heartbeat answered out of its batch".into())
                    })?;
                let before: Option<String> = row.try_get(1)?;
                let before = before.as_deref().map(state).transpose()?;
                let after = state(row.try_get(2)?)?;
                let run_state = *run_states.get(&beats[i].run_id).ok_or_else(|| {
                    StoreError::Corrupt("a heartbeat's run was not written".into())
                })?;
                written[i] = Some((before, (after, run_state)));
            }
        }
        let written: Vec<(Option<RunState>, (RunState, RunState))> =
            written.into_iter().collect::<Option<_>>().ok_or_else(|| {
                StoreError::Corrupt("a heartbeat of the batch was not written".into())
            })?;
        let mut answers: Vec<(RunState, RunState)> = written.iter().map(|&(_, a)| a).collect();
        // The changes of state, in the order the beats were written.
        let changed: Vec<(usize, Option<RunState>)> = order
            .iter()
            .map(|&i| (i, written[i].0))
            .filter(|&(i, before)| before != Some(answers[i].0))
            .collect();
        if changed.is_empty() {
            tx.commit().await?;
            return Ok(answers);
        }
        tx.batch_execute("SET LOCAL synchronous_commit TO DEFAULT")
            .await?;
        for &(i, before) in &changed {
            let (beat, after) = (&beats[i], answers[i].0);
            tx.execute(
                "INSERT INTO run_changes (run_id, host, rank, from_state, to_state, step)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &beat.run_id,
                    &beat.host,
                    &beat.rank,
                    &before.map_or("", RunState::as_str),
                    &after.as_str(),
                    &beat.step,
                ],
            )
            .await?;
        }
        let mut runs: Vec<&str> = changed
            .iter()
            .map(|&(i, _)| beats[i].run_id.as_str())
            .collect();
        runs.sort_unstable();
        runs.dedup();
        for run_id in runs {
            let run = refresh_run(&tx, run_id).await?;
            // Every beat of the run is answered with its state as committed
            // (a member failing beside one that only beat fails the run).
            for (beat, answer) in beats.iter().zip(answers.iter_mut()) {
                if beat.run_id == run_id {
                    answer.1 = run.state;
                }
            }
        }
        tx.commit().await?;
        Ok(answers)
    }

    /// Marks members stuck or lost (or alive again) by the database's
    /// clock, records each change and refreshes the runs concerned; only
    /// one replica sweeps at a time (the others return at once). Returns
    /// how many members changed.
    pub async fn sweep_runs(&self) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RUNS_SWEEP_LOCK])
            .await?
            .try_get(0)?;
        if !locked {
            return Ok(0);
        }
        // Runs before members, as a heartbeat and an insert take them (no
        // deadlock between them).
        let due_runs: Vec<String> = tx
            .query(
                "SELECT r.run_id FROM runs r
                 WHERE EXISTS (
                    SELECT 1 FROM run_members m
                    WHERE m.run_id = r.run_id AND m.state IN ('alive', 'stuck')
                      AND (now() - m.last_heartbeat > make_interval(secs => m.interval_secs * $1)
                           OR (m.step IS NOT NULL AND m.state = 'alive'
                               AND now() - m.step_changed_at > make_interval(secs => r.stuck_after_secs))))
                 ORDER BY r.run_id COLLATE \"C\"
                 LIMIT $2
                 FOR UPDATE OF r",
                &[&(LOST_AFTER_INTERVALS as f64), &(SWEEP_RUNS as i64)],
            )
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<_, _>>()?;
        if due_runs.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let rows = tx
            .query(
                "WITH due AS (
                    SELECT m.run_id, m.host, m.rank, m.key_pid, m.state AS from_state,
                           CASE
                             WHEN now() - m.last_heartbeat > make_interval(secs => m.interval_secs * $1)
                               THEN 'lost'
                             WHEN m.step IS NOT NULL
                                  AND now() - m.step_changed_at > make_interval(secs => r.stuck_after_secs)
                               THEN 'stuck'
                             ELSE 'alive'
                           END AS to_state
                    FROM run_members m JOIN runs r USING (run_id)
                    WHERE m.state IN ('alive', 'stuck') AND m.run_id = ANY($2)
                 ), moved AS (
                    UPDATE run_members m SET state = due.to_state, state_changed_at = now()
                    FROM due
                    WHERE m.run_id = due.run_id AND m.host = due.host AND m.rank = due.rank
                      AND m.key_pid = due.key_pid AND due.to_state <> due.from_state
                    RETURNING m.run_id, m.host, m.rank, due.from_state, m.state AS to_state, m.step
                 )
                 INSERT INTO run_changes (run_id, host, rank, from_state, to_state, step)
                 SELECT run_id, host, rank, from_state, to_state, step FROM moved
                 RETURNING run_id",
                &[&(LOST_AFTER_INTERVALS as f64), &due_runs],
            )
            .await?;
        let mut runs: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<_, _>>()?;
        let changed = runs.len();
        runs.sort();
        runs.dedup();
        runs.truncate(SWEEP_RUNS);
        for run_id in &runs {
            refresh_run(&tx, run_id).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// One page of runs matching `filter`, most recent heartbeat first,
    /// after `cursor`; the cursor of the next page when there is one.
    pub async fn list_runs(
        &self,
        filter: &RunFilter,
        cursor: Option<&RunCursor>,
        page_size: usize,
    ) -> Result<(Vec<Run>, Option<RunCursor>), StoreError> {
        let client = self.reader().await?;
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let after_time =
            cursor.and_then(|c| DateTime::<Utc>::from_timestamp_micros(c.last_heartbeat_micros));
        let after_id = cursor.map(|c| c.run_id.clone());
        let rows = client
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r
                     WHERE (cardinality($1::text[]) = 0 OR state = ANY($1))
                       AND ($2 = '' OR EXISTS (SELECT 1 FROM run_members m
                                               WHERE m.run_id = r.run_id AND m.host = $2))
                       AND ($3::timestamptz IS NULL OR last_heartbeat >= $3)
                       AND ($4::timestamptz IS NULL OR last_heartbeat < $4)
                       AND ($5::timestamptz IS NULL OR (last_heartbeat, run_id) < ($5, $6::text))
                     ORDER BY last_heartbeat DESC, run_id DESC
                     LIMIT $7"
                ),
                &[
                    &states,
                    &filter.host,
                    &filter.since,
                    &filter.until,
                    &after_time,
                    &after_id,
                    &(page_size as i64 + 1),
                ],
            )
            .await?;
        client.finish();
        let mut runs = rows.iter().map(row_to_run).collect::<Result<Vec<_>, _>>()?;
        let next = if runs.len() > page_size {
            runs.truncate(page_size);
            runs.last().map(|r| RunCursor {
                last_heartbeat_micros: r.last_heartbeat.timestamp_micros(),
                run_id: r.run_id.clone(),
            })
        } else {
            None
        };
        Ok((runs, next))
    }

    /// Run `run_id` and its members (those needing attention first), or
    /// `None` when diagd never heard of it.
    pub async fn get_run(&self, run_id: &str) -> Result<Option<(Run, Vec<RunMember>)>, StoreError> {
        let client = self.reader().await?;
        let Some(row) = client
            .query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"),
                &[&run_id],
            )
            .await?
        else {
            client.finish();
            return Ok(None);
        };
        let members = client
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM run_members WHERE run_id = $1
                     ORDER BY CASE state WHEN 'failed' THEN 0 WHEN 'lost' THEN 1 WHEN 'stuck' THEN 2
                                         WHEN 'alive' THEN 3 ELSE 4 END, rank, host, pid
                     LIMIT $2"
                ),
                &[&run_id, &MAX_MEMBERS],
            )
            .await?
            .iter()
            .map(row_to_member)
            .collect::<Result<Vec<_>, _>>()?;
        client.finish();
        // Bounded in bytes as well (a member with a long host, message and
        // metrics is a few KiB): the run's counts say how many there are.
        let mut bytes = 0;
        let members: Vec<RunMember> = members
            .into_iter()
            .take_while(|m| {
                bytes += 128 + m.host.len() + m.message.len() + m.metrics.len() * 80;
                bytes <= MAX_MEMBER_BYTES
            })
            .collect();
        let mut run = row_to_run(&row)?;
        // Exact from the members (listings keep the value of the last state
        // change).
        run.min_step = members
            .iter()
            .filter(|m| matches!(m.state, RunState::Alive | RunState::Stuck))
            .filter_map(|m| m.step)
            .min();
        Ok(Some((run, members)))
    }

    /// Where a reader of changes starts to see only new ones: after every
    /// change of the transactions that have finished.
    pub async fn run_changes_start(&self) -> Result<ChangeCursor, StoreError> {
        let client = self.reader().await?;
        let xid: String = client
            .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])
            .await?
            .try_get(0)?;
        client.finish();
        Ok(ChangeCursor { xid, id: 0 })
    }

    /// Changes after `after`, in (transaction, id) order, of transactions
    /// older than every one still running (so none can appear before them
    /// later), at most `limit`, each with its run as it is now; and the
    /// cursor after them.
    pub async fn run_changes_after(
        &self,
        after: &ChangeCursor,
        limit: usize,
    ) -> Result<(Vec<RunChange>, ChangeCursor), StoreError> {
        let client = self.reader().await?;
        let read = changes_after(&*client, after, limit).await;
        client.finish();
        read
    }

    /// Forgets recorded changes older than `before` (WatchRuns streams only
    /// new ones).
    pub async fn prune_run_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM run_changes WHERE changed_at < $1", &[&before])
            .await?)
    }
}
