-- Recent user actions (breadcrumbs), stored diagnostic reports, and the
-- persisted debug-mode switch.

-- User actions recorded with RecordAction; diagd keeps the newest N per source
-- (host, run, component), trimming older ones in the inserting transaction.
CREATE TABLE recent_actions (
    id               uuid        PRIMARY KEY,             -- UUID v7
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    action           text        NOT NULL,
    details          jsonb       NOT NULL DEFAULT '{}',
    source_host      text        NOT NULL DEFAULT '',
    source_run_id    text        NOT NULL DEFAULT '',
    source_component text        NOT NULL DEFAULT '',
    source_labels    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX recent_actions_per_source ON recent_actions
    (source_host, source_run_id, source_component, occurred_at DESC, id DESC);
CREATE INDEX recent_actions_newest ON recent_actions (occurred_at DESC, id DESC);

-- Generated diagnostic reports: the whole JSON document, and what listings show.
CREATE TABLE reports (
    id          uuid        PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    error_count bigint      NOT NULL,
    size_bytes  bigint      NOT NULL,   -- octet_length(document::text): what a download sends
    document    jsonb       NOT NULL
);
CREATE INDEX reports_newest ON reports (created_at DESC, id DESC);

-- The debug-mode switch: exactly one row.
CREATE TABLE debug_mode (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled     boolean     NOT NULL DEFAULT false,
    changed_at  timestamptz,
    changed_by  text        NOT NULL DEFAULT '',
    auto_off_at timestamptz
);
INSERT INTO debug_mode (singleton) VALUES (true);
