-- The runner asks for the earliest run_at of unlocked jobs each time it is about to wait,
-- to set its timer; this index makes that a one-entry read instead of a scan.
CREATE INDEX jobs_next_run_at_idx ON jobs (run_at) WHERE locked_by IS NULL;
