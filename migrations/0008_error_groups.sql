-- Error groups (issue #13): every log gets a fingerprint at ingest (see
-- src/domain/fingerprint.rs); each fingerprint belongs to one group, and a
-- group may hold many (merges). Counts are kept per fingerprint, in the same
-- transaction as the logs, so merging or splitting moves no counts, and a
-- group's figures are the sum of its fingerprints'.

-- A group: what a person triages. Rows are never deleted: a group whose
-- logs were all cleared keeps its status, note and merges, so the error
-- coming back lands in it again — with its known fix, or as a regression.
CREATE TABLE error_groups (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The fingerprint the group was created for; makes creation idempotent
    -- between concurrent batches. NULL for a group made by a split.
    seed_fingerprint    text        UNIQUE,
    title               text        NOT NULL,   -- `Type: normalised message`
    culprit             text        NOT NULL,   -- `module in function`, may be empty
    exception_type      text        NOT NULL,   -- the last exception's type, may be empty
    error_type          text        NOT NULL,   -- diagd's kind (oom, network, ...) of its first log
    status              text        NOT NULL DEFAULT 'unresolved'
                                    CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    status_changed_at   timestamptz NOT NULL DEFAULT now(),
    status_changed_by   text        NOT NULL DEFAULT '',
    ignored_until       timestamptz,            -- ignored until this time (status ignored)
    ignored_events_left bigint,                 -- ignored for this many more events (status ignored)
    regressed_at        timestamptz,            -- last time a resolved group got a new event
    note                text        NOT NULL DEFAULT '',  -- the knowledge-base entry: cause and fix
    note_author         text        NOT NULL DEFAULT '',
    note_updated_at     timestamptz,
    merged_into         bigint      REFERENCES error_groups (id),  -- set when merged away
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- The sums of its fingerprints' figures, kept in the same transactions
    -- (inserts, clears, merges, splits), so listing groups in any of these
    -- orders reads a few index entries, not every group.
    event_count         bigint      NOT NULL DEFAULT 0 CHECK (event_count >= 0),
    first_seen          timestamptz,             -- NULL while it has no logs
    last_seen           timestamptz,
    top_severity        smallint,                -- 0 critical .. 3 low; NULL while it has no logs
    -- Distinct hosts and runs among its logs: raised by the host and run
    -- rows inserts add, recounted exactly at merges, splits and clears.
    hosts               bigint      NOT NULL DEFAULT 0 CHECK (hosts >= 0),
    runs                bigint      NOT NULL DEFAULT 0 CHECK (runs >= 0),
    CHECK (ignored_until IS NULL OR ignored_events_left IS NULL)
);
CREATE INDEX error_groups_last_seen ON error_groups (last_seen DESC, id DESC)
    WHERE merged_into IS NULL AND event_count > 0;
CREATE INDEX error_groups_first_seen ON error_groups (first_seen DESC, id DESC)
    WHERE merged_into IS NULL AND event_count > 0;
CREATE INDEX error_groups_event_count ON error_groups (event_count DESC, id DESC)
    WHERE merged_into IS NULL AND event_count > 0;

-- Which group each fingerprint lands in, why (its components), and its
-- running counts. Never deleted either: a merge must keep sending the
-- fingerprint to its target.
CREATE TABLE group_fingerprints (
    fingerprint     text        PRIMARY KEY,   -- hex hash, see domain::fingerprint
    group_id        bigint      NOT NULL REFERENCES error_groups (id),
    version         integer     NOT NULL,      -- the fingerprint rules' version
    components      jsonb       NOT NULL,      -- why: types, frames, normalised message
    title           text        NOT NULL,
    culprit         text        NOT NULL,
    exception_type  text        NOT NULL,
    error_type      text        NOT NULL,
    event_count     bigint      NOT NULL DEFAULT 0 CHECK (event_count >= 0),
    first_seen      timestamptz,               -- NULL while it has no logs
    last_seen       timestamptz,
    top_severity    smallint,                  -- 0 critical .. 3 low; NULL while it has no logs
    added_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX group_fingerprints_group ON group_fingerprints (group_id);

-- Counts per fingerprint, hour of occurred_at and severity: a group's trend
-- and per-group stats without scanning logs.
CREATE TABLE fingerprint_counts_hourly (
    fingerprint text        NOT NULL,
    hour        timestamptz NOT NULL,
    severity    text        NOT NULL,
    log_count   bigint      NOT NULL CHECK (log_count >= 0),
    PRIMARY KEY (fingerprint, hour, severity)
);

-- Counts per fingerprint and host, and per fingerprint and run: affected
-- hosts and runs, and the top ones. (Two tables, not one per host × run:
-- their rows are at most fingerprints × hosts and fingerprints × runs.)
CREATE TABLE fingerprint_hosts (
    fingerprint   text   NOT NULL,
    source_host   text   NOT NULL,
    log_count     bigint NOT NULL CHECK (log_count >= 0),
    PRIMARY KEY (fingerprint, source_host)
);
CREATE TABLE fingerprint_runs (
    fingerprint   text   NOT NULL,
    source_run_id text   NOT NULL,
    log_count     bigint NOT NULL CHECK (log_count >= 0),
    PRIMARY KEY (fingerprint, source_run_id)
);

-- Each log's fingerprint and group. NULL in logs stored before this
-- migration until the background backfill groups them.
ALTER TABLE logs ADD COLUMN fingerprint text, ADD COLUMN group_id bigint;
CREATE INDEX logs_group_newest ON logs (group_id, occurred_at DESC, id DESC) WHERE group_id IS NOT NULL;
CREATE INDEX logs_ungrouped ON logs (id) WHERE group_id IS NULL;
