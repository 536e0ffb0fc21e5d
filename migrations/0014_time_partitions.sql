-- Time partitions (issue #18): `logs` becomes a table partitioned by range of
-- occurred_at, one partition per UTC day, named logs_pYYYYMMDD.
--
-- Why diagd's own maintenance and not pg_partman: the embedded default runs
-- Debian's PostgreSQL binaries without extensions beyond contrib, a
-- partition must exist before the first log of its day arrives (clients send
-- old timestamps; a premade window cannot cover them), and what retention
-- needs (drop a day while keeping every count exact) is diagd's own work
-- anyway. Partitions are made by diagd_ensure_log_partition (below): by
-- diagd for today and the next days at start-up and every hour, and by ingest
-- for any day a batch brings that has none yet. Each is created empty and
-- then ATTACHed, which locks `logs` only in SHARE UPDATE EXCLUSIVE mode: reads
-- and inserts go on meanwhile.
--
-- What changes with it:
-- - A unique index on a partitioned table must include the partition key, so
--   event_id (exactly-once ingest) is claimed in log_events, one row per
--   event_id, in the insert's statement; the primary key becomes
--   (id, occurred_at), still found by id alone.
-- - `seq` (the live tail's order) comes from a sequence shared by every
--   partition instead of an identity column.
--
-- Migrating a database with logs copies them into the partitions and then
-- builds the indexes, in this migration's transaction: diagd does not serve
-- meanwhile (store/migrate.rs says so in its log, with an estimate).
-- Measured on a 2-core machine: 44 s for 1,000,000 logs (BENCHMARKS.md).

SET LOCAL maintenance_work_mem = '256MB';

-- The old table keeps its data until it is copied; its indexes go first (the
-- new ones take their names) and are not needed to read it once.
ALTER TABLE logs RENAME TO logs_unpartitioned;
ALTER TABLE logs_unpartitioned DROP CONSTRAINT logs_pkey, DROP CONSTRAINT logs_event_id_key;
DROP INDEX logs_commit_order, logs_context_values_fold_trgm, logs_error_type_newest, logs_group_newest,
           logs_host_newest, logs_labels, logs_message_fold_trgm, logs_newest_first, logs_run_newest,
           logs_severity_newest, logs_trace_newest, logs_ungrouped;
ALTER TABLE logs_unpartitioned ALTER COLUMN seq DROP IDENTITY;

CREATE SEQUENCE logs_seq AS bigint;
SELECT setval('logs_seq', coalesce((SELECT max(seq) FROM logs_unpartitioned), 0) + 1, false);

CREATE TABLE logs (
    id               uuid        NOT NULL,
    event_id         uuid,
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    severity         text        NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    error_type       text        NOT NULL CHECK (error_type IN
                         ('oom', 'network', 'configuration', 'model_loading', 'training', 'inference', 'other')),
    message          text        NOT NULL,
    context          jsonb       NOT NULL DEFAULT '{}',
    system_state     jsonb,
    recent_actions   jsonb       NOT NULL DEFAULT '[]',
    source_host      text        NOT NULL DEFAULT '',
    source_run_id    text        NOT NULL DEFAULT '',
    source_component text        NOT NULL DEFAULT '',
    source_labels    jsonb       NOT NULL DEFAULT '{}',
    stack_trace_hash bytea,
    context_values   text        GENERATED ALWAYS AS (diagd_json_values(context)) STORED,
    txid             bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    seq              bigint      NOT NULL DEFAULT nextval('logs_seq'),
    fingerprint      text,
    group_id         bigint
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE logs_seq OWNED BY logs.seq;

-- The event_ids stored, each once (exactly-once ingest). occurred_at is its
-- log's, so retention can forget the ids of the days it dropped; log_id
-- answers "which log has this event_id".
CREATE TABLE log_events (
    event_id    uuid        PRIMARY KEY,
    log_id      uuid        NOT NULL,
    occurred_at timestamptz NOT NULL
);
-- Nearly free to maintain (logs arrive roughly in time order) and enough to
-- find a dropped day's ids.
CREATE INDEX log_events_occurred_at ON log_events USING brin (occurred_at);

-- A partition's indexes are named after the partition and the index of
-- `logs` they belong to (logs_p20261202_logs_newest_first), so a plan says
-- which index it used; PostgreSQL's own names would not.
CREATE FUNCTION diagd_name_partition_indexes(part regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    child text;
    parent text;
BEGIN
    FOR child, parent IN
        SELECT ci.relname, pi.relname
        FROM pg_index x
        JOIN pg_inherits i ON i.inhrelid = x.indexrelid
        JOIN pg_class ci ON ci.oid = x.indexrelid
        JOIN pg_class pi ON pi.oid = i.inhparent
        WHERE x.indrelid = part
    LOOP
        IF child <> part::text || '_' || parent THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', child, part::text || '_' || parent);
        END IF;
    END LOOP;
END
$$;

-- Retention removes a dropped day's hourly counts per fingerprint by hour.
CREATE INDEX fingerprint_counts_hourly_hour ON fingerprint_counts_hourly (hour);

-- The partition holding `day` (a UTC date), made and attached when missing.
-- Returns true when it made it. Callers serialise on their own advisory lock
-- (store/partitions.rs); this also works alone, as here in the migration.
CREATE FUNCTION diagd_ensure_log_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'logs_p' || to_char(day, 'YYYYMMDD');
    low timestamptz := day::timestamp AT TIME ZONE 'UTC';
    high timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'logs'::regclass AND c.relname = name) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING GENERATED INCLUDING STORAGE)', name);
    -- The bound as a constraint first: ATTACH then skips its own check.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L)',
                   name, name || '_bound', low, high);
    EXECUTE format('ALTER TABLE logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, low, high);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
    PERFORM diagd_name_partition_indexes(name::regclass);
    RETURN true;
END
$$;

-- Partitions for every day that has logs, then the copy, then the indexes
-- (built once per partition, faster than maintained row by row).
SELECT diagd_ensure_log_partition(day)
FROM (SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM logs_unpartitioned) days;
SELECT diagd_ensure_log_partition((now() AT TIME ZONE 'UTC')::date + n) FROM generate_series(0, 2) n;

INSERT INTO logs (id, event_id, occurred_at, received_at, severity, error_type, message, context, system_state,
                  recent_actions, source_host, source_run_id, source_component, source_labels, stack_trace_hash,
                  txid, seq, fingerprint, group_id)
SELECT id, event_id, occurred_at, received_at, severity, error_type, message, context, system_state,
       recent_actions, source_host, source_run_id, source_component, source_labels, stack_trace_hash,
       txid, seq, fingerprint, group_id
FROM logs_unpartitioned
ORDER BY occurred_at, seq;

INSERT INTO log_events (event_id, log_id, occurred_at)
SELECT event_id, id, occurred_at FROM logs_unpartitioned WHERE event_id IS NOT NULL;

DROP TABLE logs_unpartitioned;

ALTER TABLE logs ADD PRIMARY KEY (id, occurred_at);
CREATE INDEX logs_newest_first       ON logs (occurred_at DESC, id DESC);
CREATE INDEX logs_severity_newest    ON logs (severity, occurred_at DESC, id DESC);
CREATE INDEX logs_error_type_newest  ON logs (error_type, occurred_at DESC, id DESC);
CREATE INDEX logs_host_newest        ON logs (source_host, occurred_at DESC, id DESC) WHERE source_host <> '';
CREATE INDEX logs_run_newest         ON logs (source_run_id, occurred_at DESC, id DESC) WHERE source_run_id <> '';
CREATE INDEX logs_labels             ON logs USING gin (source_labels jsonb_path_ops);
CREATE INDEX logs_trace_newest       ON logs (stack_trace_hash, occurred_at DESC, id DESC)
    WHERE stack_trace_hash IS NOT NULL;
CREATE INDEX logs_group_newest       ON logs (group_id, occurred_at DESC, id DESC) WHERE group_id IS NOT NULL;
CREATE INDEX logs_ungrouped          ON logs (id) WHERE group_id IS NULL;
CREATE INDEX logs_commit_order       ON logs (txid, seq);
CREATE INDEX logs_message_fold_trgm  ON logs USING gin (diagd_fold(message) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
CREATE INDEX logs_context_values_fold_trgm ON logs USING gin (diagd_fold(context_values) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);

SELECT diagd_name_partition_indexes(inhrelid::regclass) FROM pg_inherits WHERE inhparent = 'logs'::regclass;
