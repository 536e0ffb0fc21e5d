//! Training runs and their members (issue #15): what a Heartbeat says, the
//! states diagd derives from heartbeats (by the database's clock, in
//! `store::runs`), how a run's state sums up its members', and the one line
//! that names the members behind ("rank 17 on gpu-node-03 stuck at step
//! 12340 while 63 ranks are at 12341").

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};

/// A member's or a run's derived state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunState {
    /// Heartbeats arrive (and the step advances, when one is sent).
    Alive,
    /// Heartbeats arrive; the step has not advanced for `stuck_after`.
    Stuck,
    /// No heartbeat for three intervals.
    Lost,
    /// Ended with a FINISHED heartbeat.
    Finished,
    /// Ended with a FAILED heartbeat.
    Failed,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 5] = [
        RunState::Alive,
        RunState::Stuck,
        RunState::Lost,
        RunState::Finished,
        RunState::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Alive => "alive",
            RunState::Stuck => "stuck",
            RunState::Lost => "lost",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a member says it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunPhase {
    /// Not said.
    #[default]
    Unspecified,
    /// Setting up.
    Starting,
    /// In the training loop.
    Training,
    /// Evaluating.
    Evaluating,
    /// Writing a checkpoint.
    Saving,
    /// Done: ends the member as FINISHED.
    Finished,
    /// Done with a failure: ends the member as FAILED.
    Failed,
}

impl RunPhase {
    /// The stored name ("" when not said).
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Unspecified => "",
            RunPhase::Starting => "starting",
            RunPhase::Training => "training",
            RunPhase::Evaluating => "evaluating",
            RunPhase::Saving => "saving",
            RunPhase::Finished => "finished",
            RunPhase::Failed => "failed",
        }
    }

    /// The phase of a stored name.
    pub fn parse(name: &str) -> RunPhase {
        [
            RunPhase::Starting,
            RunPhase::Training,
            RunPhase::Evaluating,
            RunPhase::Saving,
            RunPhase::Finished,
            RunPhase::Failed,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
        .unwrap_or_default()
    }
}

/// Default heartbeat interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default time the step may stay the same before a member is stuck.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(600);
/// Missed intervals after which a member is lost.
pub const LOST_AFTER_INTERVALS: u32 = 3;

/// One validated heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    /// The run.
    pub run_id: String,
    /// The member's host.
    pub host: String,
    /// The member's rank; -1: none.
    pub rank: i32,
    /// Its process id.
    pub pid: u32,
    /// What it says it is doing.
    pub phase: RunPhase,
    /// Its step, when it has one.
    pub step: Option<i64>,
    /// Its epoch, when known.
    pub epoch: Option<f64>,
    /// Progress numbers.
    pub metrics: BTreeMap<String, f64>,
    /// How often it sends a heartbeat.
    pub interval: Duration,
    /// The run's stuck threshold, when the member sets it.
    pub stuck_after: Option<Duration>,
    /// With FAILED: why.
    pub message: String,
}

impl Heartbeat {
    /// The member's key within its run: its pid counts only without a rank
    /// (a restarted rank is the same member).
    pub fn key_pid(&self) -> i64 {
        if self.rank >= 0 { 0 } else { self.pid as i64 }
    }
}

/// One member as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMember {
    /// Its host.
    pub host: String,
    /// Its rank; -1: none.
    pub rank: i32,
    /// Its process id.
    pub pid: u32,
    /// Its derived state.
    pub state: RunState,
    /// What it last said.
    pub phase: RunPhase,
    /// Its last step.
    pub step: Option<i64>,
    /// Its last epoch.
    pub epoch: Option<f64>,
    /// Its last progress numbers.
    pub metrics: BTreeMap<String, f64>,
    /// First heartbeat.
    pub first_heartbeat: DateTime<Utc>,
    /// Latest heartbeat.
    pub last_heartbeat: DateTime<Utc>,
    /// When its step last changed.
    pub step_changed_at: DateTime<Utc>,
    /// When its state last changed.
    pub state_changed_at: DateTime<Utc>,
    /// Its heartbeat interval.
    pub interval: Duration,
    /// Why it failed, when it said.
    pub message: String,
}

impl RunMember {
    /// "rank 17 on gpu-node-03", or "pid 4242 on gpu-node-03" without a rank.
    pub fn name(&self) -> String {
        if self.rank >= 0 {
            format!("rank {} on {}", self.rank, self.host)
        } else {
            format!("pid {} on {}", self.pid, self.host)
        }
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its id.
    pub run_id: String,
    /// Its state.
    pub state: RunState,
    /// One line naming the members behind.
    pub summary: String,
    /// First heartbeat.
    pub started_at: DateTime<Utc>,
    /// Latest heartbeat.
    pub last_heartbeat: DateTime<Utc>,
    /// When its state last changed.
    pub state_changed_at: DateTime<Utc>,
    /// Its stuck threshold.
    pub stuck_after: Duration,
    /// Members by state.
    pub counts: StateCounts,
    /// Highest step of any member.
    pub max_step: Option<i64>,
    /// Lowest step of a running (alive or stuck) member.
    pub min_step: Option<i64>,
}

/// Members of a run by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateCounts {
    /// Alive.
    pub alive: u32,
    /// Stuck.
    pub stuck: u32,
    /// Lost.
    pub lost: u32,
    /// Finished.
    pub finished: u32,
    /// Failed.
    pub failed: u32,
}

impl StateCounts {
    /// All members.
    pub fn total(&self) -> u32 {
        self.alive + self.stuck + self.lost + self.finished + self.failed
    }

    /// The run's state: the worst of its members'.
    pub fn run_state(&self) -> RunState {
        if self.failed > 0 {
            RunState::Failed
        } else if self.lost > 0 {
            RunState::Lost
        } else if self.stuck > 0 {
            RunState::Stuck
        } else if self.alive > 0 {
            RunState::Alive
        } else {
            RunState::Finished
        }
    }
}

/// The one line for people: which members are behind and where the others
/// are. `behind`: the run's members in its state (a few, worst first);
/// `others_step`: the highest step of the alive members.
pub fn summary(
    state: RunState,
    counts: &StateCounts,
    behind: &[RunMember],
    others_step: Option<i64>,
) -> String {
    let total = counts.total();
    let named = |members: &[RunMember]| {
        let mut names: Vec<String> = members.iter().take(3).map(RunMember::name).collect();
        let count = match state {
            RunState::Stuck => counts.stuck,
            RunState::Lost => counts.lost,
            RunState::Failed => counts.failed,
            _ => members.len() as u32,
        } as usize;
        if count > names.len() {
            names.push(format!("{} more", count - names.len()));
        }
        names.join(", ")
    };
    let at_step = |member: Option<&RunMember>| {
        member
            .and_then(|m| m.step)
            .map(|s| format!(" at step {s}"))
            .unwrap_or_default()
    };
    let others = |count: u32| {
        if count == 0 {
            String::new()
        } else {
            let (members, are) = if count == 1 {
                ("member", "is")
            } else {
                ("members", "are")
            };
            match others_step {
                Some(step) => format!(" while {count} {members} {are} at {step}"),
                None => format!(" while {count} {members} {are} alive"),
            }
        }
    };
    match state {
        RunState::Alive => match others_step {
            Some(step) => format!("{total} alive, at step {step}"),
            None => format!("{total} alive"),
        },
        RunState::Finished => format!("finished ({total} members)"),
        RunState::Stuck => format!(
            "{} stuck{}{}",
            named(behind),
            at_step(behind.first()),
            others(counts.alive)
        ),
        RunState::Lost => format!(
            "{} lost{} (no heartbeat since {}){}",
            named(behind),
            at_step(behind.first()),
            behind
                .first()
                .map(|m| m.last_heartbeat.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            others(counts.alive)
        ),
        RunState::Failed => {
            let why = behind
                .first()
                .map(|m| m.message.as_str())
                .filter(|m| !m.is_empty())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            format!("{} failed{}{}", named(behind), at_step(behind.first()), why)
        }
    }
}

/// A member's state change, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChange {
    /// Its order.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The member's host.
    pub host: String,
    /// The member's rank; -1: none.
    pub rank: i32,
    /// Before (`None`: a new member).
    pub from: Option<RunState>,
    /// After.
    pub to: RunState,
    /// Its step then.
    pub step: Option<i64>,
    /// When (the database's clock).
    pub changed_at: DateTime<Utc>,
    /// The run after the change.
    pub run: Run,
}

/// Which runs ListRuns returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// In any of these states; empty = all.
    pub states: Vec<RunState>,
    /// With a member on this host; empty = any.
    pub host: String,
    /// Latest heartbeat at or after.
    pub since: Option<DateTime<Utc>>,
    /// Latest heartbeat before.
    pub until: Option<DateTime<Utc>>,
}

/// Where a ListRuns page continues: after this run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCursor {
    /// Its latest heartbeat (micros since the epoch).
    pub last_heartbeat_micros: i64,
    /// Its id.
    pub run_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(rank: i32, state: RunState, step: Option<i64>) -> RunMember {
        let at = DateTime::parse_from_rfc3339("2026-12-01T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        RunMember {
            host: "gpu-node-03".into(),
            rank,
            pid: 42,
            state,
            phase: RunPhase::Training,
            step,
            epoch: None,
            metrics: BTreeMap::new(),
            first_heartbeat: at,
            last_heartbeat: at,
            step_changed_at: at,
            state_changed_at: at,
            interval: DEFAULT_INTERVAL,
            message: String::new(),
        }
    }

    #[test]
    fn the_run_is_its_worst_member_and_the_summary_names_it() {
        let counts = StateCounts {
            alive: 63,
            stuck: 1,
            ..Default::default()
        };
        assert_eq!(counts.run_state(), RunState::Stuck);
        assert_eq!(
            summary(
                RunState::Stuck,
                &counts,
                &[member(17, RunState::Stuck, Some(12340))],
                Some(12341)
            ),
            "rank 17 on gpu-node-03 stuck at step 12340 while 63 members are at 12341"
        );
        let counts = StateCounts {
            alive: 1,
            lost: 5,
            stuck: 2,
            ..Default::default()
        };
        assert_eq!(counts.run_state(), RunState::Lost);
        let lost: Vec<RunMember> = (0..3).map(|r| member(r, RunState::Lost, Some(7))).collect();
        assert_eq!(
            summary(RunState::Lost, &counts, &lost, Some(9)),
            "rank 0 on gpu-node-03, rank 1 on gpu-node-03, rank 2 on gpu-node-03, 2 more lost at step 7 \
             (no heartbeat since 2026-12-01 03:04:05 UTC) while 1 member is at 9"
        );
        let mut failed = member(-1, RunState::Failed, None);
        failed.message = "RuntimeError: boom".into();
        let counts = StateCounts {
            failed: 1,
            finished: 3,
            ..Default::default()
        };
        assert_eq!(counts.run_state(), RunState::Failed);
        assert_eq!(
            summary(RunState::Failed, &counts, &[failed], None),
            "pid 42 on gpu-node-03 failed: RuntimeError: boom"
        );
        let counts = StateCounts {
            finished: 4,
            ..Default::default()
        };
        assert_eq!(counts.run_state(), RunState::Finished);
        assert_eq!(
            summary(RunState::Finished, &counts, &[], None),
            "finished (4 members)"
        );
    }

    #[test]
    fn a_restarted_rank_is_the_same_member_and_a_rankless_one_is_its_pid() {
        let mut beat = Heartbeat {
            run_id: "r".into(),
            host: "h".into(),
            rank: 0,
            pid: 1,
            phase: RunPhase::Training,
            step: Some(5),
            epoch: None,
            metrics: BTreeMap::new(),
            interval: DEFAULT_INTERVAL,
            stuck_after: None,
            message: String::new(),
        };
        assert_eq!(beat.key_pid(), 0);
        beat.rank = -1;
        assert_eq!(beat.key_pid(), 1);
    }
}
