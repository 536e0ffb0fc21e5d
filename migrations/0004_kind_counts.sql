-- Counts per hour × severity × error type only. log_counts_hourly is keyed by
-- source too (host, run, component), so with many sources it holds about one
-- row per log and an unfiltered GetStats summed ~1,000,000 rows at 1M logs
-- (120 ms). This table has at most hours × 28 rows; stats without a source
-- filter read it. Written in the same statement as the logs (see
-- store/logs.rs) and lowered by what a delete removed (store/clear.rs).
CREATE TABLE log_counts_kind_hourly (
    hour        timestamptz NOT NULL,
    severity    text        NOT NULL,
    error_type  text        NOT NULL,
    log_count   bigint      NOT NULL CHECK (log_count >= 0),
    oldest      timestamptz NOT NULL,
    newest      timestamptz NOT NULL,
    PRIMARY KEY (hour, severity, error_type)
);

INSERT INTO log_counts_kind_hourly (hour, severity, error_type, log_count, oldest, newest)
SELECT hour, severity, error_type, sum(log_count), min(oldest), max(newest)
FROM log_counts_hourly
GROUP BY hour, severity, error_type
HAVING sum(log_count) > 0;
