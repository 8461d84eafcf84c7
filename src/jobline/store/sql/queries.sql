-- Named queries of the jobs DB. Each starts with a `-- name: <name>` line; store/connection.py
-- loads them for intake_writes.py, runner_ops.py and inspection.py. Connections run with
-- search_path set to the project's schema.

-- name: insert_jobs
-- One statement for a whole batch: arrays in, one row per element. A keyed job meets the
-- queued job with the same (plugin config, key): `replace` overwrites it, `preserve`
-- leaves it. RETURNING names the keyed rows written, so the caller can tell a trigger
-- that met a job locked meanwhile (neither written nor preserved) and try it again.
INSERT INTO jobs (type, plugin_config_id, team_id, payload, meta, run_at, max_attempts,
                  key, key_mode, queue_name, priority)
SELECT * FROM unnest(
    %(types)s::text[], %(plugin_config_ids)s::bigint[], %(team_ids)s::bigint[],
    %(payloads)s::jsonb[], %(metas)s::jsonb[], %(run_ats)s::timestamptz[],
    %(max_attempts)s::integer[], %(keys)s::text[], %(key_modes)s::text[],
    %(queue_names)s::text[], %(priorities)s::smallint[]
)
ON CONFLICT (plugin_config_id, key) WHERE key IS NOT NULL DO UPDATE
SET type = EXCLUDED.type, team_id = EXCLUDED.team_id, payload = EXCLUDED.payload,
    meta = EXCLUDED.meta, run_at = EXCLUDED.run_at, max_attempts = EXCLUDED.max_attempts,
    key_mode = EXCLUDED.key_mode, queue_name = EXCLUDED.queue_name,
    priority = EXCLUDED.priority, attempts = 0, last_error = NULL
WHERE jobs.locked_by IS NULL AND EXCLUDED.key_mode = 'replace'
RETURNING plugin_config_id, key

-- name: detach_keys
-- Running jobs give their key up to the triggers about to be inserted.
UPDATE jobs SET key = NULL
FROM unnest(%(plugin_config_ids)s::bigint[], %(keys)s::text[]) AS k(plugin_config_id, key)
WHERE jobs.plugin_config_id = k.plugin_config_id AND jobs.key = k.key
  AND jobs.locked_by IS NOT NULL

-- name: fetch_settings
-- JOBLINE_DB_SCHEMA_FROM=role (behind PgBouncer) sends no connection options: the fetch's
-- settings (FETCH_CONNECTION_OPTIONS in jobs_db.py, with their reasons) are set local to
-- its transaction instead, so they never leak to the pooler's next client.
SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true),
       set_config('plan_cache_mode', 'force_custom_plan', true)

-- name: fetch_due
-- Fetch a batch of due jobs and lock them in the same statement. A job of a named queue
-- is due only when it is its queue's head (lowest id) and no job of its queue is running.
-- jobs_due_idx holds only jobs without a queue and queue heads (`queue_head`, kept by the
-- triggers of migration 0008), so the jobs waiting behind a head are never walked. Each
-- candidate head is checked against the exact rule in one probe of jobs_queue_head_idx
-- (the flagged rows only, one or two per queue): a queue's lowest id is always flagged and
-- so is a running job of a queue (only flagged rows are fetched), so "no other flagged row
-- of its queue is lower or running" is the rule. (A probe over all the queue's rows got a
-- sequential scan of the table once the statistics showed one queue holding most jobs.)
-- `id = ANY(ARRAY(...))` makes the outer update a primary-key lookup whatever the
-- statistics say (with a join, a table analyzed while empty got a nested loop over the
-- whole table: 3 s instead of 2 ms at 100k jobs). The connection that runs it disables
-- sorts and bitmap scans (store/connection.py), so that the inner select walks jobs_due_idx
-- in order on a never-analyzed table too. Jobs of a paused config (`jobline configs pause`)
-- are passed by: one primary-key probe of the tiny paused_configs per index entry walked.
UPDATE jobs SET locked_by = %(runner_id)s, locked_at = now()
WHERE id = ANY(ARRAY(
    SELECT j.id
    FROM jobs j
    WHERE j.locked_by IS NULL
      AND (j.queue_name IS NULL OR j.queue_head)
      AND j.run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM paused_configs p WHERE p.plugin_config_id = j.plugin_config_id)
      AND (j.queue_name IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs q
            WHERE q.queue_name = j.queue_name AND q.queue_head AND q.id <> j.id
              AND (q.id < j.id OR q.locked_by IS NOT NULL)))
    ORDER BY j.priority, j.run_at, j.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
))
RETURNING id, type, plugin_config_id, team_id, payload, run_at, attempts, max_attempts,
          queue_name, priority, unrunnable_since

-- name: next_run_at
-- The earliest run_at still to come, for the runner's timer: one entry of
-- jobs_next_run_at_idx. Due jobs are not asked for (the fetch has just passed them by: a
-- peer holds them, or they wait behind a running queue head), so that such a job does not
-- hide the next future one and leave it to the poll interval.
SELECT min(run_at) FROM jobs WHERE locked_by IS NULL AND run_at > now()

-- name: complete
-- Only rows this runner still holds: a rescued job belongs to someone else now. Every
-- outcome statement returns the ids it touched; the others had lost their lock.
DELETE FROM jobs WHERE id = ANY(%(ids)s::bigint[]) AND locked_by = %(runner_id)s
RETURNING id

-- name: retry
UPDATE jobs
SET attempts = jobs.attempts + 1, last_error = f.error, run_at = f.run_at,
    locked_by = NULL, locked_at = NULL
FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(run_ats)s::timestamptz[]) AS f(id, error, run_at)
WHERE jobs.id = f.id AND jobs.locked_by = %(runner_id)s
RETURNING jobs.id

-- name: fail_permanently
WITH moved AS (
    DELETE FROM jobs WHERE id = ANY(%(ids)s::bigint[]) AND locked_by = %(runner_id)s
    RETURNING *
)
INSERT INTO failed_jobs (id, type, plugin_config_id, team_id, payload, meta, run_at, created_at,
                         attempts, max_attempts, last_error, key, queue_name, priority)
SELECT m.id, m.type, m.plugin_config_id, m.team_id, m.payload, m.meta, m.run_at, m.created_at,
       m.attempts + 1, m.max_attempts, f.error, m.key, m.queue_name, m.priority
FROM moved m JOIN unnest(%(ids)s::bigint[], %(errors)s::text[]) AS f(id, error) ON f.id = m.id
RETURNING id

-- name: release
-- Hand jobs back untouched (not an attempt): shutdown, or fetched but never started.
UPDATE jobs SET locked_by = NULL, locked_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND locked_by = %(runner_id)s
RETURNING id

-- name: release_orphans
-- Jobs locked by this runner that it does not know it holds: a fetch that committed but
-- whose rows never arrived (timeout or connection lost after COMMIT), or an outcome that
-- could not be written. `held` is every job the runner runs or has an outcome pending for.
UPDATE jobs SET locked_by = NULL, locked_at = NULL
WHERE locked_by = %(runner_id)s AND NOT (id = ANY(%(held)s::bigint[]))
RETURNING id

-- name: postpone
-- Not run now (its plugin config is disabled, or this runner cannot run it yet): due again
-- at its own run_at, not an attempt. `unrunnable` keeps the time this runner first could
-- not run it (the clock of JOBLINE_UNKNOWN_JOB_GIVE_UP_S); a disabled config clears it.
UPDATE jobs
SET locked_by = NULL, locked_at = NULL, run_at = p.run_at,
    unrunnable_since = CASE WHEN p.unrunnable THEN coalesce(jobs.unrunnable_since, now()) END
FROM unnest(%(ids)s::bigint[], %(run_ats)s::timestamptz[], %(unrunnable)s::boolean[])
     AS p(id, run_at, unrunnable)
WHERE jobs.id = p.id AND jobs.locked_by = %(runner_id)s
RETURNING jobs.id

-- name: heartbeat
INSERT INTO runners (id, hostname, pid, capabilities)
VALUES (%(runner_id)s, %(hostname)s, %(pid)s, %(capabilities)s)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()

-- name: remove_runner
DELETE FROM runners WHERE id = %(runner_id)s

-- name: drain_requested
-- Read by each runner with its heartbeat (runner/heartbeat.py); `jobline runners drain`
-- sets it (drain_runner in admin.sql).
SELECT drain_requested_at IS NOT NULL FROM runners WHERE id = %(runner_id)s

-- name: rescue_dead_runners
-- Unlock jobs of runners whose heartbeat is older than dead_after (the attempt counts).
-- Jobs locked by a runner id with no row at all are rescued once their lock is that old.
WITH dead AS (
    DELETE FROM runners
    WHERE heartbeat_at < now() - make_interval(secs => %(dead_after_s)s)
    RETURNING id
)
UPDATE jobs
SET locked_by = NULL, locked_at = NULL, attempts = attempts + 1,
    last_error = 'runner ' || locked_by || ' stopped heartbeating while running this job'
WHERE locked_by IS NOT NULL
  AND (locked_by IN (SELECT id FROM dead)
       OR (locked_at < now() - make_interval(secs => %(dead_after_s)s)
           AND NOT EXISTS (SELECT 1 FROM runners r WHERE r.id = jobs.locked_by)))
RETURNING id, type, attempts, max_attempts

-- name: move_to_failed
-- Unlocked jobs whose attempts are used up (after a rescue) leave the hot table.
WITH moved AS (
    DELETE FROM jobs
    WHERE id = ANY(%(ids)s::bigint[]) AND locked_by IS NULL
    RETURNING *
)
INSERT INTO failed_jobs (id, type, plugin_config_id, team_id, payload, meta, run_at, created_at,
                         attempts, max_attempts, last_error, key, queue_name, priority)
SELECT id, type, plugin_config_id, team_id, payload, meta, run_at, created_at,
       attempts, max_attempts, last_error, key, queue_name, priority
FROM moved

-- name: set_statement_timeout
-- The intake's deadline for each statement of its batch transaction; `true` makes it
-- local to that transaction (SET LOCAL), so the pooled connection keeps its own.
SELECT set_config('statement_timeout', %(ms)s, true)

-- name: lock_offsets
-- Held until the batch's transaction ends: a second consumer of the same partition (a
-- zombie after a rebalance) waits here, then sees the offsets this one wrote.
SELECT partition, next_offset FROM intake_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s AND partition = ANY(%(partitions)s::integer[])
FOR UPDATE

-- name: load_offsets
SELECT partition, next_offset FROM intake_offsets
WHERE consumer_group = %(group)s AND topic = %(topic)s AND partition = ANY(%(partitions)s::integer[])

-- name: save_offsets
INSERT INTO intake_offsets (consumer_group, topic, partition, next_offset)
SELECT %(group)s, %(topic)s, p, o FROM unnest(%(partitions)s::integer[], %(offsets)s::bigint[]) AS t(p, o)
ON CONFLICT (consumer_group, topic, partition)
DO UPDATE SET next_offset = GREATEST(intake_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()

-- name: queue_counts
SELECT
    count(*) FILTER (WHERE locked_by IS NULL AND run_at <= now()) AS due,
    count(*) FILTER (WHERE locked_by IS NULL AND run_at > now())  AS scheduled,
    count(*) FILTER (WHERE locked_by IS NOT NULL)                 AS running,
    (SELECT count(*) FROM failed_jobs)                            AS failed,
    coalesce(extract(epoch FROM now() - min(run_at) FILTER (
        WHERE locked_by IS NULL AND run_at <= now())), 0)::float8  AS oldest_due_age_s,
    (SELECT count(*) FROM runners
     WHERE heartbeat_at >= now() - make_interval(secs => %(dead_after_s)s)) AS live_runners
FROM jobs

-- name: ensure_offsets
-- One row per assigned partition before its first batch, so lock_offsets always has a
-- row to lock. -1 means "nothing persisted yet: start where Kafka says".
INSERT INTO intake_offsets (consumer_group, topic, partition, next_offset)
SELECT %(group)s, %(topic)s, p, -1 FROM unnest(%(partitions)s::integer[]) AS t(p)
ON CONFLICT (consumer_group, topic, partition) DO NOTHING
