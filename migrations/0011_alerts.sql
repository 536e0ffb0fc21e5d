-- Alerts (issue #15): rules, and the outbox of alerts with their delivery.
--
-- Alerts are derived after commit, not in the ingest transaction: one diagd
-- at a time (the one holding the evaluator's advisory lock) reads the logs and run
-- changes committed since its cursor, in commit order (logs by (txid, seq),
-- changes by (xid, id), as the live tail and WatchRuns read them), matches
-- them against the rules and, in one transaction, writes the alerts, the
-- throttles and counts, and moves the cursor: each event is evaluated
-- exactly once, across replicas and restarts, and ingest pays nothing.
--
-- A log is "new group" when its transaction made its group, "regression"
-- when its transaction reopened it: the groups remember which transaction
-- that was.
ALTER TABLE error_groups ADD COLUMN created_txid bigint, ADD COLUMN regressed_txid bigint;
-- Only groups made from now on (existing rows keep NULL: not new).
ALTER TABLE error_groups ALTER COLUMN created_txid SET DEFAULT (pg_current_xact_id()::text::bigint);

CREATE TABLE alert_rules (
    id                uuid        PRIMARY KEY,
    name              text        NOT NULL,
    trigger           text        NOT NULL,
    filter            jsonb       NOT NULL DEFAULT '{}',
    threshold         bigint      NOT NULL DEFAULT 0,
    window_secs       double precision NOT NULL DEFAULT 0,
    per_group         boolean     NOT NULL DEFAULT true,
    run_states        text[]      NOT NULL DEFAULT '{}',
    throttle_secs     double precision NOT NULL,
    destination_kind  text        NOT NULL,
    url               text        NOT NULL,
    secret            text        NOT NULL DEFAULT '',
    enabled           boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The evaluator's position: one row, written by the evaluating diagd.
CREATE TABLE alert_cursor (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    log_txid    bigint  NOT NULL,
    log_seq     bigint  NOT NULL,
    change_xid  xid8    NOT NULL,
    change_id   bigint  NOT NULL
);
-- Starts at what is committed now: earlier logs never alert.
INSERT INTO alert_cursor (log_txid, log_seq, change_xid, change_id)
VALUES (pg_snapshot_xmin(pg_current_snapshot())::text::bigint, 0,
        pg_snapshot_xmin(pg_current_snapshot()), 0);

-- Per rule and key (group, run, or everything): the last alert, and the
-- events held back since (counted into the next alert).
CREATE TABLE alert_throttles (
    rule_id        uuid        NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    key            text        NOT NULL,
    last_alert_at  timestamptz NOT NULL,
    held_back      bigint      NOT NULL DEFAULT 0,
    held_since     timestamptz,
    -- The first alert held back (its summary without the count, and its
    -- document): released with the count once the throttle has run out.
    held_headline  text,
    held_document  jsonb,
    PRIMARY KEY (rule_id, key)
);
CREATE INDEX alert_throttles_by_time ON alert_throttles (last_alert_at);
CREATE INDEX alert_throttles_holding ON alert_throttles (rule_id, key) WHERE held_back > 0;

-- EVENT_RATE counts: per rule, key and tenth of the rule's window.
CREATE TABLE alert_counts (
    rule_id       uuid        NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    key           text        NOT NULL,
    bucket_start  timestamptz NOT NULL,
    events        bigint      NOT NULL,
    PRIMARY KEY (rule_id, key, bucket_start)
);
CREATE INDEX alert_counts_by_time ON alert_counts (bucket_start);

-- The outbox: every alert and its delivery. Any diagd delivers: it claims
-- due rows with FOR UPDATE SKIP LOCKED and a lease (`claimed_until`), so
-- each is sent by one at a time.
CREATE TABLE alert_deliveries (
    id               uuid        PRIMARY KEY,
    rule_id          uuid        REFERENCES alert_rules (id) ON DELETE SET NULL,
    rule_name        text        NOT NULL,
    trigger          text        NOT NULL,
    summary          text        NOT NULL,
    group_id         bigint,
    run_id           text        NOT NULL DEFAULT '',
    destination_kind text        NOT NULL,
    url              text        NOT NULL,
    secret           text        NOT NULL DEFAULT '',
    document         jsonb       NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         jsonb       NOT NULL DEFAULT '[]',
    attempt_count    integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    delivered_at     timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX alert_deliveries_newest ON alert_deliveries (created_at DESC, id DESC);
CREATE INDEX alert_deliveries_by_rule ON alert_deliveries (rule_id, created_at DESC, id DESC);
