-- Read-only queries of `jobline status`, `jobline doctor` and the sampler. Each starts with
-- a `-- name: <name>` line (store/health.py). None of them takes a row lock or writes.

-- name: pipeline_counts
-- One pass over the hot table for every state the operator asks about. `retrying` is a
-- subset of due + scheduled (unlocked jobs that failed before), shown apart because a
-- growing number means handlers fail, not that runners are missing.
SELECT
    count(*) FILTER (WHERE locked_by IS NULL AND run_at <= now())   AS due,
    count(*) FILTER (WHERE locked_by IS NULL AND run_at > now())    AS scheduled,
    count(*) FILTER (WHERE locked_by IS NOT NULL)                   AS running,
    count(*) FILTER (WHERE locked_by IS NULL AND attempts > 0)      AS retrying,
    (SELECT count(*) FROM failed_jobs)                              AS failed,
    coalesce(extract(epoch FROM now() - min(run_at) FILTER (
        WHERE locked_by IS NULL AND run_at <= now())), 0)::float8    AS oldest_due_age_s,
    (SELECT count(*) FROM runners
     WHERE heartbeat_at >= now() - make_interval(secs => %(dead_after_s)s)) AS live_runners,
    (SELECT count(*) FROM runners
     WHERE heartbeat_at < now() - make_interval(secs => %(dead_after_s)s))  AS dead_runners
FROM jobs

-- name: stored_offsets
-- What the intake has persisted per partition (the truth, written with the jobs), and how
-- long ago each partition's last batch was written: the "stored offset" and "last
-- persisted" columns of `jobline status`.
SELECT partition, next_offset,
       extract(epoch FROM now() - updated_at)::float8 AS age_s
FROM intake_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s
ORDER BY partition

-- name: connections
-- Connections in use against the server's limit (superusers keep their reserved slots
-- out of reach of the applications), and against the connecting role's own limit.
SELECT
    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
    current_setting('max_connections')::int
        - current_setting('superuser_reserved_connections')::int                 AS usable,
    (SELECT count(*) FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND usename = current_user)          AS role_used,
    (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user)            AS role_limit

-- name: long_transactions
-- Transactions open longer than the threshold in this database: they hold locks and keep
-- autovacuum from removing the jobs table's dead rows. Our own session is left out.
SELECT pid, usename, coalesce(application_name, ''), state,
       extract(epoch FROM now() - xact_start)::float8 AS age_s,
       left(query, 120)
FROM pg_stat_activity
WHERE datname = current_database()
  AND xact_start IS NOT NULL
  AND xact_start < now() - make_interval(secs => %(older_than_s)s)
  AND pid <> pg_backend_pid()
ORDER BY xact_start
LIMIT 5

-- name: lock_waits
-- Sessions of this database waiting for a lock, and for how long (since their statement
-- started waiting in its current state).
SELECT pid, extract(epoch FROM now() - state_change)::float8 AS waiting_s,
       left(query, 120)
FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
ORDER BY state_change
LIMIT 5

-- name: jobs_vacuum
-- The jobs table churns (every job is inserted then deleted): dead rows pile up when
-- autovacuum is off for it or cannot keep up.
SELECT s.n_live_tup, s.n_dead_tup,
       extract(epoch FROM now() - greatest(s.last_autovacuum, s.last_vacuum))::float8,
       coalesce(c.reloptions, '{}'::text[])
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = %(schema)s AND s.relname = 'jobs'

-- name: migration_version
-- The newest migration applied to the project's schema (NULL: schema never migrated).
SELECT max(version) FROM schema_migrations

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s)

-- name: recent_failures
-- Permanent failures of the last window by job type: "failed jobs rising".
SELECT type, plugin_config_id, count(*)
FROM failed_jobs
WHERE failed_at >= now() - make_interval(secs => %(window_s)s)
GROUP BY type, plugin_config_id
ORDER BY count(*) DESC
LIMIT 5

-- name: try_sampler_lock
-- Session-level: held as long as the sampler's dedicated connection lives, so exactly one
-- process samples; when it dies, its connection closes and another process takes over.
SELECT pg_try_advisory_lock(%(key)s)
