-- The error logs trainers push, and the hourly counts that keep the stats
-- dashboard cheap at millions of rows.

-- One row per stored log. Columns that filters and ordering use are real
-- columns with indexes; the nested details are JSONB.
CREATE TABLE logs (
    id               uuid        PRIMARY KEY,             -- UUID v7, server-assigned
    event_id         uuid        UNIQUE,                  -- client idempotency key (NULLs allowed, never repeated)
    occurred_at      timestamptz NOT NULL,                -- client clock
    received_at      timestamptz NOT NULL DEFAULT now(),  -- server clock
    severity         text        NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    error_type       text        NOT NULL CHECK (error_type IN
                         ('oom', 'network', 'configuration', 'model_loading', 'training', 'inference', 'other')),
    message          text        NOT NULL,
    stack_trace      text        NOT NULL DEFAULT '',
    context          jsonb       NOT NULL DEFAULT '{}',
    system_state     jsonb,                               -- NULL when the client sent none
    recent_actions   jsonb       NOT NULL DEFAULT '[]',
    source_host      text        NOT NULL DEFAULT '',
    source_run_id    text        NOT NULL DEFAULT '',
    source_component text        NOT NULL DEFAULT '',
    source_labels    jsonb       NOT NULL DEFAULT '{}'
);

-- Newest-first listing and keyset paging on (occurred_at, id), alone or with
-- the most common filters in front.
CREATE INDEX logs_newest_first       ON logs (occurred_at DESC, id DESC);
CREATE INDEX logs_severity_newest    ON logs (severity, occurred_at DESC, id DESC);
CREATE INDEX logs_error_type_newest  ON logs (error_type, occurred_at DESC, id DESC);
CREATE INDEX logs_host_newest        ON logs (source_host, occurred_at DESC, id DESC) WHERE source_host <> '';
CREATE INDEX logs_run_newest         ON logs (source_run_id, occurred_at DESC, id DESC) WHERE source_run_id <> '';
CREATE INDEX logs_labels             ON logs USING gin (source_labels jsonb_path_ops);

-- Counts per hour of occurred_at and per severity, type and source, written
-- in the same transaction as the logs, so unfiltered and time-range stats read
-- a few rows per hour instead of every log.
CREATE TABLE log_counts_hourly (
    hour             timestamptz NOT NULL,
    severity         text        NOT NULL,
    error_type       text        NOT NULL,
    source_host      text        NOT NULL,
    source_run_id    text        NOT NULL,
    source_component text        NOT NULL,
    log_count        bigint      NOT NULL CHECK (log_count >= 0),
    oldest           timestamptz NOT NULL,  -- earliest occurred_at counted in this bucket
    newest           timestamptz NOT NULL,  -- latest occurred_at counted in this bucket
    PRIMARY KEY (hour, severity, error_type, source_host, source_run_id, source_component)
);
