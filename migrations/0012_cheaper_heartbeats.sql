-- Cheaper heartbeats (issue #15's load: thousands a second). A heartbeat
-- rewrites its member's row and its run's; when no indexed column changes
-- and the page has room, PostgreSQL updates in place (a HOT update: no
-- index entry written, the old version pruned on the page).
--
-- - run_members: the partial index on last_heartbeat changed with every
--   heartbeat and served no query (the sweep probes members by run), so it
--   goes; pages keep 30 % free for in-place updates.
-- - runs: its last_heartbeat orders ListRuns (indexed), so a heartbeat
--   moves it only when it is 10 s old or more (store/runs.rs); pages keep
--   room too.
DROP INDEX IF EXISTS run_members_running;
ALTER TABLE run_members SET (fillfactor = 70);
ALTER TABLE runs SET (fillfactor = 70);
