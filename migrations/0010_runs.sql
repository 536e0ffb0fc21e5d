-- Training runs and their members (issue #15): what each process last said
-- in a Heartbeat, and the state diagd derives from it by the database's
-- clock (store/runs.rs): alive, stuck (heartbeats arrive, the step does not
-- advance for the run's stuck_after), lost (no heartbeat for three
-- intervals), finished, failed. `runs` keeps each run's summary so listing
-- reads no members; `run_changes` records every member state change, for
-- WatchRuns (and, later, alerts).
CREATE TABLE runs (
    run_id            text        PRIMARY KEY,
    state             text        NOT NULL,
    summary           text        NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL,
    last_heartbeat    timestamptz NOT NULL,
    state_changed_at  timestamptz NOT NULL,
    stuck_after_secs  double precision NOT NULL DEFAULT 600,
    members           integer     NOT NULL DEFAULT 0,
    alive             integer     NOT NULL DEFAULT 0,
    stuck             integer     NOT NULL DEFAULT 0,
    lost              integer     NOT NULL DEFAULT 0,
    finished          integer     NOT NULL DEFAULT 0,
    failed            integer     NOT NULL DEFAULT 0,
    max_step          bigint,
    min_step          bigint
);
CREATE INDEX runs_by_last_heartbeat ON runs (last_heartbeat DESC, run_id DESC);

CREATE TABLE run_members (
    run_id            text        NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    host              text        NOT NULL,
    -- -1: no rank; then the pid tells members on one host apart.
    rank              integer     NOT NULL,
    pid               bigint      NOT NULL,
    state             text        NOT NULL,
    phase             text        NOT NULL DEFAULT '',
    step              bigint,
    epoch             double precision,
    metrics           jsonb       NOT NULL DEFAULT '{}',
    first_heartbeat   timestamptz NOT NULL,
    last_heartbeat    timestamptz NOT NULL,
    step_changed_at   timestamptz NOT NULL,
    state_changed_at  timestamptz NOT NULL,
    interval_secs     double precision NOT NULL,
    -- The pid when the member has no rank, else 0 (a restarted rank is the
    -- same member).
    key_pid           bigint      NOT NULL,
    message           text        NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, host, rank, key_pid)
);
-- The liveness sweep reads only members still running.
CREATE INDEX run_members_running ON run_members (last_heartbeat)
    WHERE state IN ('alive', 'stuck');
CREATE INDEX run_members_by_host ON run_members (host, run_id);

CREATE TABLE run_changes (
    id                bigserial   PRIMARY KEY,
    run_id            text        NOT NULL,
    host              text        NOT NULL,
    rank              integer     NOT NULL,
    from_state        text        NOT NULL,
    to_state          text        NOT NULL,
    step              bigint,
    changed_at        timestamptz NOT NULL DEFAULT now(),
    -- The writing transaction: readers take changes in (xid, id) order and
    -- only from transactions older than every running one, so a change
    -- committed late (a long sweep) is never skipped.
    xid               xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX run_changes_by_time ON run_changes (changed_at);
CREATE INDEX run_changes_in_commit_order ON run_changes (xid, id);
