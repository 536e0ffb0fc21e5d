-- Counts per minute of occurred_at × severity, written in the same
-- statement as the logs (store/logs.rs) and lowered by deletes
-- (store/clear.rs): GetStats' minute buckets (issue #13, trends) read these
-- instead of scanning logs. Keyed by severity only (not error type), to
-- keep the rows a batch touches few; minute buckets filtered by error type
-- count logs. Hour and day buckets read the hourly counts.
CREATE TABLE log_counts_minutely (
    minute      timestamptz NOT NULL,
    severity    text        NOT NULL,
    log_count   bigint      NOT NULL CHECK (log_count >= 0),
    PRIMARY KEY (minute, severity)
);

INSERT INTO log_counts_minutely (minute, severity, log_count)
SELECT date_trunc('minute', occurred_at, 'UTC'), severity, count(*)
FROM logs
GROUP BY 1, 2;
