-- When a runner first could not run a job (its plugin config, plugin or job type unknown
-- to that runner, e.g. an old runner during a rolling deploy). The job is postponed with
-- backoff until JOBLINE_UNKNOWN_JOB_GIVE_UP_S after this, then fails permanently.
-- No default: adding the column rewrites nothing and holds its lock for an instant.
ALTER TABLE jobs ADD COLUMN unrunnable_since timestamptz;
