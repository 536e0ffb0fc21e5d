-- Search and live tail.
--
-- Search: trigram (pg_trgm) GIN indexes serve case-insensitive substring
-- matches (ILIKE) on messages, stack traces and context values. Stack traces
-- repeat massively (the same OOM path thousands of times), so each distinct
-- trace is stored once, keyed by its SHA-256, and indexed there: the index
-- grows with distinct traces, not with logs. Context is searched by its
-- values only (not keys or JSON punctuation), through a generated column.
--
-- Live tail: every log records the id of the transaction that inserted it
-- and an insertion sequence. Readers follow (txid, seq) below the oldest
-- running transaction id, so a log committed late by a transaction that
-- started early is never skipped.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE stack_traces (
    hash       bytea       PRIMARY KEY,             -- SHA-256 of the trace's UTF-8 text
    trace      text        NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stack_traces_trace_trgm ON stack_traces USING gin (trace gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);

ALTER TABLE logs ADD COLUMN stack_trace_hash bytea;
INSERT INTO stack_traces (hash, trace)
    SELECT DISTINCT sha256(convert_to(stack_trace, 'UTF8')), stack_trace FROM logs WHERE stack_trace <> ''
    ON CONFLICT (hash) DO NOTHING;
UPDATE logs SET stack_trace_hash = sha256(convert_to(stack_trace, 'UTF8')) WHERE stack_trace <> '';
ALTER TABLE logs DROP COLUMN stack_trace;
CREATE INDEX logs_stack_trace_hash ON logs (stack_trace_hash);

-- Every scalar value of a JSON document (strings, numbers, booleans), one
-- per line: what a search of the context looks at.
CREATE FUNCTION diagd_json_values(doc jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(value #>> '{}', E'\n'), '')
    FROM jsonb_path_query(doc, 'strict $.** ? (@.type() != "object" && @.type() != "array")') AS value
$$;
ALTER TABLE logs ADD COLUMN context_values text GENERATED ALWAYS AS (diagd_json_values(context)) STORED;

-- A small pending list (512 kB instead of 4 MB) keeps fast GIN inserts while
-- bounding what a search must scan unindexed, and keeps the planner from
-- judging the index too costly right after a burst of ingest.
CREATE INDEX logs_message_trgm ON logs USING gin (message gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
CREATE INDEX logs_context_values_trgm ON logs USING gin (context_values gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);

ALTER TABLE logs ADD COLUMN txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
ALTER TABLE logs ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX logs_commit_order ON logs (txid, seq);
