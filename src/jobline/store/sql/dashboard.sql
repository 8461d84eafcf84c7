-- Named queries of the dashboard (jobline/dashboard). Read-only. The gauges are sampled
-- on a timer by ONE task per dashboard process, whatever the number of browsers, and every
-- count is capped (LIMIT inside) so that a table of millions costs the same as one of
-- %(cap)s rows: the page shows "100000+" instead of scanning everything every 2 s.

-- name: queue_gauges
-- due and scheduled walk jobs_next_run_at_idx (locked_by IS NULL); running walks
-- jobs_locked_by_idx; the earliest unlocked run_at is one entry of jobs_next_run_at_idx.
SELECT
    (SELECT count(*) FROM (SELECT 1 FROM jobs
        WHERE locked_by IS NULL AND run_at <= now() LIMIT %(cap)s) d) AS due,
    (SELECT count(*) FROM (SELECT 1 FROM jobs
        WHERE locked_by IS NULL AND run_at > now() LIMIT %(cap)s) s) AS scheduled,
    (SELECT count(*) FROM (SELECT 1 FROM jobs
        WHERE locked_by IS NOT NULL LIMIT %(cap)s) r) AS running,
    (SELECT count(*) FROM (SELECT 1 FROM jobs
        WHERE locked_by IS NULL AND attempts > 0 LIMIT %(cap)s) t) AS retrying,
    (SELECT count(*) FROM (SELECT 1 FROM failed_jobs LIMIT %(cap)s) f) AS failed,
    (SELECT min(run_at) FROM jobs WHERE locked_by IS NULL) AS earliest_run_at,
    (SELECT count(*) FROM (SELECT 1 FROM paused_configs p JOIN jobs j
        ON j.plugin_config_id = p.plugin_config_id LIMIT %(cap)s) p) AS paused_jobs,
    now() AS at

-- name: table_activity
-- Cumulative row counters of the jobs tables (PostgreSQL's statistics, flushed by each
-- backend within about a second): finished jobs are deleted, so the deltas of these
-- counters between two samples are the only history the jobs DB keeps without a table.
-- jobs: n_tup_ins = persisted (intake, retries back in), n_tup_del = finished, cancelled
-- or moved to failed; failed_jobs: n_tup_ins = permanent failures.
SELECT relname, n_tup_ins, n_tup_del
FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname IN ('jobs', 'failed_jobs')

-- name: intake_offsets
-- The intake's next offset per partition, stored in the batch's transaction: what the
-- jobs DB holds, whatever Kafka's own committed offsets say.
SELECT partition, next_offset, updated_at FROM intake_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s
ORDER BY partition

-- name: config_backlog
-- Per plugin config: queued jobs, running ones, the oldest due. A whole-table aggregate,
-- run only when the Plugin configs page is opened (never on a timer).
SELECT plugin_config_id,
       count(*) AS queued,
       count(*) FILTER (WHERE locked_by IS NOT NULL) AS running,
       min(run_at) FILTER (WHERE locked_by IS NULL AND run_at <= now()) AS oldest_due
FROM jobs GROUP BY plugin_config_id

-- name: config_failures
-- Per plugin config: permanent failures in the last hour and in all.
SELECT plugin_config_id,
       count(*) FILTER (WHERE failed_at >= now() - interval '1 hour') AS last_hour,
       count(*) AS total
FROM failed_jobs GROUP BY plugin_config_id
