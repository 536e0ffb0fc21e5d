//! Runs, both ways: a Heartbeat validated into the domain's `Heartbeat`
//! (every field bounded), ListRuns' filter, and runs, members and state
//! changes back to the wire.

use std::{collections::BTreeMap, time::Duration};

use crate::api::{error::FieldError, pb};
use crate::domain::run::{
    DEFAULT_INTERVAL, Heartbeat, Run, RunChange, RunFilter, RunMember, RunPhase, RunState,
};

use super::{from_wire::text, to_wire::timestamp_to_proto};
use crate::api::limits::{
    MAX_INTERVAL_SECS, MAX_METRIC_NAME_BYTES, MAX_METRICS, MAX_RANK, MAX_RUN_FIELD_BYTES,
    MAX_RUN_MESSAGE_BYTES, MAX_STUCK_AFTER_SECS, MIN_INTERVAL_SECS, MIN_STUCK_AFTER_SECS,
};

pub(super) fn duration(
    field: &str,
    value: Option<prost_types::Duration>,
    min: Duration,
    max: Duration,
) -> Result<Option<Duration>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.seconds < 0 || value.nanos < 0 || value.nanos >= 1_000_000_000 {
        return Err(FieldError::new(field, "must be a positive duration"));
    }
    let duration = Duration::new(value.seconds as u64, value.nanos as u32);
    if duration < min || duration > max {
        return Err(FieldError::new(
            field,
            format!(
                "{} s is outside {} s to {} s",
                duration.as_secs_f64(),
                min.as_secs(),
                max.as_secs()
            ),
        ));
    }
    Ok(Some(duration))
}

fn required(field: &str, value: &str) -> Result<(), FieldError> {
    text(field, value, MAX_RUN_FIELD_BYTES)?;
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    Ok(())
}

/// The phase of a wire value.
pub fn phase(value: i32) -> Result<RunPhase, FieldError> {
    Ok(match pb::RunPhase::try_from(value) {
        Ok(pb::RunPhase::Unspecified) => RunPhase::Unspecified,
        Ok(pb::RunPhase::Starting) => RunPhase::Starting,
        Ok(pb::RunPhase::Training) => RunPhase::Training,
        Ok(pb::RunPhase::Evaluating) => RunPhase::Evaluating,
        Ok(pb::RunPhase::Saving) => RunPhase::Saving,
        Ok(pb::RunPhase::Finished) => RunPhase::Finished,
        Ok(pb::RunPhase::Failed) => RunPhase::Failed,
        Err(_) => {
            return Err(FieldError::new("phase", format!("unknown phase {value}")));
        }
    })
}

/// A validated heartbeat.
pub fn heartbeat(request: pb::HeartbeatRequest) -> Result<Heartbeat, FieldError> {
    required("run_id", &request.run_id)?;
    required("host", &request.host)?;
    if !(-1..=MAX_RANK).contains(&request.rank) {
        return Err(FieldError::new(
            "rank",
            format!("{} is outside -1 (none) to {MAX_RANK}", request.rank),
        ));
    }
    if request.metrics.len() > MAX_METRICS {
        return Err(FieldError::new(
            "metrics",
            format!(
                "{} numbers is over the limit of {MAX_METRICS}",
                request.metrics.len()
            ),
        ));
    }
    let mut metrics = BTreeMap::new();
    for (name, value) in request.metrics {
        let field = format!("metrics[{name:?}]");
        text(&field, &name, MAX_METRIC_NAME_BYTES)?;
        if name.is_empty() || !value.is_finite() {
            return Err(FieldError::new(field, "needs a name and a finite value"));
        }
        metrics.insert(name, value);
    }
    if let Some(epoch) = request.epoch
        && !epoch.is_finite()
    {
        return Err(FieldError::new("epoch", "must be finite"));
    }
    text("message", &request.message, MAX_RUN_MESSAGE_BYTES)?;
    Ok(Heartbeat {
        run_id: request.run_id,
        host: request.host,
        rank: request.rank,
        pid: request.pid,
        phase: phase(request.phase)?,
        step: request.step,
        epoch: request.epoch,
        metrics,
        interval: duration(
            "interval",
            request.interval,
            Duration::from_secs(MIN_INTERVAL_SECS),
            Duration::from_secs(MAX_INTERVAL_SECS),
        )?
        .unwrap_or(DEFAULT_INTERVAL),
        stuck_after: duration(
            "stuck_after",
            request.stuck_after,
            Duration::from_secs(MIN_STUCK_AFTER_SECS),
            Duration::from_secs(MAX_STUCK_AFTER_SECS),
        )?,
        message: request.message,
    })
}

/// A state from the wire (`None` for UNSPECIFIED).
pub fn run_state(field: &str, value: i32) -> Result<Option<RunState>, FieldError> {
    Ok(match pb::RunState::try_from(value) {
        Ok(pb::RunState::Unspecified) => None,
        Ok(pb::RunState::Alive) => Some(RunState::Alive),
        Ok(pb::RunState::Stuck) => Some(RunState::Stuck),
        Ok(pb::RunState::Lost) => Some(RunState::Lost),
        Ok(pb::RunState::Finished) => Some(RunState::Finished),
        Ok(pb::RunState::Failed) => Some(RunState::Failed),
        Err(_) => {
            return Err(FieldError::new(field, format!("unknown run state {value}")));
        }
    })
}

/// ListRuns' filter.
pub fn run_filter(request: &pb::ListRunsRequest) -> Result<RunFilter, FieldError> {
    let mut states = Vec::new();
    for (i, value) in request.states.iter().enumerate() {
        if let Some(state) = run_state(&format!("states[{i}]"), *value)? {
            states.push(state);
        }
    }
    text("host", &request.host, MAX_RUN_FIELD_BYTES)?;
    Ok(RunFilter {
        states,
        host: request.host.clone(),
        since: request
            .since
            .map(|t| super::from_wire::timestamp("since", t))
            .transpose()?,
        until: request
            .until
            .map(|t| super::from_wire::timestamp("until", t))
            .transpose()?,
    })
}

/// A state on the wire.
pub fn run_state_to_proto(state: RunState) -> pb::RunState {
    match state {
        RunState::Alive => pb::RunState::Alive,
        RunState::Stuck => pb::RunState::Stuck,
        RunState::Lost => pb::RunState::Lost,
        RunState::Finished => pb::RunState::Finished,
        RunState::Failed => pb::RunState::Failed,
    }
}

fn phase_to_proto(phase: RunPhase) -> pb::RunPhase {
    match phase {
        RunPhase::Unspecified => pb::RunPhase::Unspecified,
        RunPhase::Starting => pb::RunPhase::Starting,
        RunPhase::Training => pb::RunPhase::Training,
        RunPhase::Evaluating => pb::RunPhase::Evaluating,
        RunPhase::Saving => pb::RunPhase::Saving,
        RunPhase::Finished => pb::RunPhase::Finished,
        RunPhase::Failed => pb::RunPhase::Failed,
    }
}

pub(super) fn duration_to_proto(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

/// A run on the wire.
pub fn run(run: Run) -> pb::Run {
    pb::Run {
        run_id: run.run_id,
        state: run_state_to_proto(run.state) as i32,
        summary: run.summary,
        started_at: Some(timestamp_to_proto(run.started_at)),
        last_heartbeat: Some(timestamp_to_proto(run.last_heartbeat)),
        state_changed_at: Some(timestamp_to_proto(run.state_changed_at)),
        members: run.counts.total(),
        alive: run.counts.alive,
        stuck: run.counts.stuck,
        lost: run.counts.lost,
        finished: run.counts.finished,
        failed: run.counts.failed,
        max_step: run.max_step,
        min_step: run.min_step,
        stuck_after: Some(duration_to_proto(run.stuck_after)),
    }
}

/// A member on the wire.
pub fn member(member: RunMember) -> pb::RunMember {
    pb::RunMember {
        host: member.host,
        rank: member.rank,
        pid: member.pid,
        state: run_state_to_proto(member.state) as i32,
        phase: phase_to_proto(member.phase) as i32,
        step: member.step,
        epoch: member.epoch,
        metrics: member.metrics.into_iter().collect(),
        first_heartbeat: Some(timestamp_to_proto(member.first_heartbeat)),
        last_heartbeat: Some(timestamp_to_proto(member.last_heartbeat)),
        step_changed_at: Some(timestamp_to_proto(member.step_changed_at)),
        state_changed_at: Some(timestamp_to_proto(member.state_changed_at)),
        interval: Some(duration_to_proto(member.interval)),
        message: member.message,
    }
}

/// A state change on the wire.
pub fn change(change: &RunChange) -> pb::RunChange {
    pb::RunChange {
        run_id: change.run_id.clone(),
        host: change.host.clone(),
        rank: change.rank,
        from_state: change
            .from
            .map_or(pb::RunState::Unspecified, run_state_to_proto) as i32,
        to_state: run_state_to_proto(change.to) as i32,
        step: change.step,
        changed_at: Some(timestamp_to_proto(change.changed_at)),
        run: Some(run(change.run.clone())),
    }
}
