-- Named queries of the operations layer (jobline/ops, `jobline jobs|failed|dlq|configs|
-- runners`). Connections run with search_path set to the project's schema. None of these
-- is on the hot path; each filter is optional (NULL means "any").

-- name: count_jobs
SELECT count(*) FROM jobs j
WHERE (%(ids)s::bigint[] IS NULL OR j.id = ANY(%(ids)s::bigint[]))
  AND (%(config_ids)s::bigint[] IS NULL OR j.plugin_config_id = ANY(%(config_ids)s::bigint[]))
  AND (%(team)s::bigint IS NULL OR j.team_id = %(team)s::bigint)
  AND (%(type)s::text IS NULL OR j.type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR j.queue_name = %(queue)s::text)
  AND (%(key)s::text IS NULL OR j.key = %(key)s::text)
  AND (%(since)s::timestamptz IS NULL OR j.created_at >= %(since)s::timestamptz)
  AND (%(error_like)s::text IS NULL OR j.last_error ILIKE %(error_like)s::text)
  AND (%(state)s::text IS NULL
       OR (%(state)s::text = 'due' AND j.locked_by IS NULL AND j.run_at <= now())
       OR (%(state)s::text = 'scheduled' AND j.locked_by IS NULL AND j.run_at > now())
       OR (%(state)s::text = 'running' AND j.locked_by IS NOT NULL)
       OR (%(state)s::text = 'retrying' AND j.locked_by IS NULL AND j.attempts > 0))

-- name: filter_jobs
-- The same filter as count_jobs, a page at a time in id order (keyset: after_id), so a
-- bulk change walks a large selection in batches without OFFSET.
SELECT j.id, j.type, j.plugin_config_id, j.team_id, j.payload, j.run_at, j.created_at,
       j.attempts, j.max_attempts, j.last_error, j.key, j.queue_name, j.priority,
       j.locked_by, j.locked_at, (p.plugin_config_id IS NOT NULL) AS paused
FROM jobs j LEFT JOIN paused_configs p ON p.plugin_config_id = j.plugin_config_id
WHERE j.id > %(after_id)s::bigint
  AND (%(ids)s::bigint[] IS NULL OR j.id = ANY(%(ids)s::bigint[]))
  AND (%(config_ids)s::bigint[] IS NULL OR j.plugin_config_id = ANY(%(config_ids)s::bigint[]))
  AND (%(team)s::bigint IS NULL OR j.team_id = %(team)s::bigint)
  AND (%(type)s::text IS NULL OR j.type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR j.queue_name = %(queue)s::text)
  AND (%(key)s::text IS NULL OR j.key = %(key)s::text)
  AND (%(since)s::timestamptz IS NULL OR j.created_at >= %(since)s::timestamptz)
  AND (%(error_like)s::text IS NULL OR j.last_error ILIKE %(error_like)s::text)
  AND (%(state)s::text IS NULL
       OR (%(state)s::text = 'due' AND j.locked_by IS NULL AND j.run_at <= now())
       OR (%(state)s::text = 'scheduled' AND j.locked_by IS NULL AND j.run_at > now())
       OR (%(state)s::text = 'running' AND j.locked_by IS NOT NULL)
       OR (%(state)s::text = 'retrying' AND j.locked_by IS NULL AND j.attempts > 0))
ORDER BY j.id
LIMIT %(limit)s

-- name: get_job
SELECT j.id, j.type, j.plugin_config_id, j.team_id, j.payload, j.run_at, j.created_at,
       j.attempts, j.max_attempts, j.last_error, j.key, j.queue_name, j.priority,
       j.locked_by, j.locked_at, (p.plugin_config_id IS NOT NULL) AS paused
FROM jobs j LEFT JOIN paused_configs p ON p.plugin_config_id = j.plugin_config_id
WHERE j.id = %(id)s

-- name: run_jobs_now
-- Running jobs are left alone: they run already.
UPDATE jobs SET run_at = now()
WHERE id = ANY(%(ids)s::bigint[]) AND locked_by IS NULL

-- name: reschedule_jobs
UPDATE jobs SET run_at = %(run_at)s
WHERE id = ANY(%(ids)s::bigint[]) AND locked_by IS NULL

-- name: cancel_jobs
-- Only jobs no runner holds: a running job finishes (or fails) as it would have.
DELETE FROM jobs WHERE id = ANY(%(ids)s::bigint[]) AND locked_by IS NULL

-- name: count_failed
SELECT count(*) FROM failed_jobs f
WHERE (%(ids)s::bigint[] IS NULL OR f.id = ANY(%(ids)s::bigint[]))
  AND (%(config_ids)s::bigint[] IS NULL OR f.plugin_config_id = ANY(%(config_ids)s::bigint[]))
  AND (%(team)s::bigint IS NULL OR f.team_id = %(team)s::bigint)
  AND (%(type)s::text IS NULL OR f.type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR f.queue_name = %(queue)s::text)
  AND (%(key)s::text IS NULL OR f.key = %(key)s::text)
  AND (%(since)s::timestamptz IS NULL OR f.failed_at >= %(since)s::timestamptz)
  AND (%(error_like)s::text IS NULL OR f.last_error ILIKE %(error_like)s::text)
  AND (%(fingerprint)s::text IS NULL OR error_fingerprint(f.last_error) = %(fingerprint)s::text)

-- name: filter_failed
SELECT f.id, f.type, f.plugin_config_id, f.team_id, f.payload, f.run_at, f.created_at,
       f.attempts, f.max_attempts, f.last_error, f.key, f.queue_name, f.priority, f.failed_at,
       error_fingerprint(f.last_error)
FROM failed_jobs f
WHERE f.id > %(after_id)s::bigint
  AND (%(ids)s::bigint[] IS NULL OR f.id = ANY(%(ids)s::bigint[]))
  AND (%(config_ids)s::bigint[] IS NULL OR f.plugin_config_id = ANY(%(config_ids)s::bigint[]))
  AND (%(team)s::bigint IS NULL OR f.team_id = %(team)s::bigint)
  AND (%(type)s::text IS NULL OR f.type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR f.queue_name = %(queue)s::text)
  AND (%(key)s::text IS NULL OR f.key = %(key)s::text)
  AND (%(since)s::timestamptz IS NULL OR f.failed_at >= %(since)s::timestamptz)
  AND (%(error_like)s::text IS NULL OR f.last_error ILIKE %(error_like)s::text)
  AND (%(fingerprint)s::text IS NULL OR error_fingerprint(f.last_error) = %(fingerprint)s::text)
ORDER BY f.id
LIMIT %(limit)s

-- name: get_failed
SELECT f.id, f.type, f.plugin_config_id, f.team_id, f.payload, f.run_at, f.created_at,
       f.attempts, f.max_attempts, f.last_error, f.key, f.queue_name, f.priority, f.failed_at,
       error_fingerprint(f.last_error)
FROM failed_jobs f WHERE f.id = %(id)s

-- name: group_failed
-- Failed jobs counted by cause: job type and error fingerprint (see 0007_operations.sql).
SELECT f.type, error_fingerprint(f.last_error) AS fingerprint, count(*) AS jobs,
       min(f.failed_at) AS first_failed_at, max(f.failed_at) AS last_failed_at,
       min(f.id) AS sample_id, (array_agg(f.last_error ORDER BY f.id))[1] AS sample_error
FROM failed_jobs f
WHERE (%(ids)s::bigint[] IS NULL OR f.id = ANY(%(ids)s::bigint[]))
  AND (%(config_ids)s::bigint[] IS NULL OR f.plugin_config_id = ANY(%(config_ids)s::bigint[]))
  AND (%(team)s::bigint IS NULL OR f.team_id = %(team)s::bigint)
  AND (%(type)s::text IS NULL OR f.type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR f.queue_name = %(queue)s::text)
  AND (%(key)s::text IS NULL OR f.key = %(key)s::text)
  AND (%(since)s::timestamptz IS NULL OR f.failed_at >= %(since)s::timestamptz)
  AND (%(error_like)s::text IS NULL OR f.last_error ILIKE %(error_like)s::text)
  AND (%(fingerprint)s::text IS NULL OR error_fingerprint(f.last_error) = %(fingerprint)s::text)
GROUP BY 1, 2
ORDER BY jobs DESC, 1, 2
LIMIT %(limit)s

-- name: retry_failed
-- Back into the jobs table under the same id, due at the given run_at (a spread retry gives
-- each job its own). A failed job whose key a queued job holds now stays failed (ON
-- CONFLICT DO NOTHING): the queued one is the newer trigger. Only re-queued rows leave
-- failed_jobs; RETURNING names them.
WITH picked AS (
    SELECT f.*, r.run_at AS new_run_at
    FROM failed_jobs f JOIN unnest(%(ids)s::bigint[], %(run_ats)s::timestamptz[]) AS r(id, run_at)
      ON r.id = f.id
    FOR UPDATE OF f
), requeued AS (
    INSERT INTO jobs (id, type, plugin_config_id, team_id, payload, meta, run_at, created_at,
                      attempts, max_attempts, last_error, key, queue_name, priority)
    OVERRIDING SYSTEM VALUE
    SELECT id, type, plugin_config_id, team_id, payload, meta, new_run_at, created_at,
           CASE WHEN %(reset_attempts)s::boolean THEN 0 ELSE attempts END,
           max_attempts, last_error, key, queue_name, priority
    FROM picked
    ON CONFLICT DO NOTHING
    RETURNING id
)
DELETE FROM failed_jobs WHERE id IN (SELECT id FROM requeued)
RETURNING id

-- name: delete_failed
DELETE FROM failed_jobs WHERE id = ANY(%(ids)s::bigint[])

-- name: insert_audit
INSERT INTO audit_log (actor, action, filter, affected)
VALUES (%(actor)s, %(action)s, %(filter)s::jsonb, %(affected)s)

-- name: recent_audit
SELECT id, at, actor, action, filter, affected FROM audit_log ORDER BY id DESC LIMIT %(limit)s

-- name: pause_config
INSERT INTO paused_configs (plugin_config_id, paused_by) VALUES (%(config_id)s, %(actor)s)
ON CONFLICT (plugin_config_id) DO NOTHING

-- name: resume_config
DELETE FROM paused_configs WHERE plugin_config_id = %(config_id)s

-- name: skip_config
INSERT INTO skipped_configs (plugin_config_id, skipped_by) VALUES (%(config_id)s, %(actor)s)
ON CONFLICT (plugin_config_id) DO NOTHING

-- name: unskip_config
DELETE FROM skipped_configs WHERE plugin_config_id = %(config_id)s

-- name: paused_configs
SELECT p.plugin_config_id, p.paused_at, p.paused_by,
       (SELECT count(*) FROM jobs j WHERE j.plugin_config_id = p.plugin_config_id) AS jobs
FROM paused_configs p ORDER BY 1

-- name: skipped_configs
SELECT plugin_config_id, skipped_at, skipped_by FROM skipped_configs ORDER BY 1

-- name: skipped_config_ids
-- Read by the intake every few seconds (its run-time skip list).
SELECT plugin_config_id FROM skipped_configs

-- name: list_runners
SELECT r.id, r.hostname, r.pid, r.capabilities, r.started_at, r.heartbeat_at,
       extract(epoch FROM now() - r.heartbeat_at)::float8 AS beat_age_s,
       r.drain_requested_at,
       (SELECT count(*) FROM jobs j WHERE j.locked_by = r.id) AS running
FROM runners r ORDER BY r.started_at, r.id

-- name: drain_runner
UPDATE runners SET drain_requested_at = coalesce(drain_requested_at, now())
WHERE id = %(runner_id)s
RETURNING id

-- name: claim_dlq_replay
-- Taken in the transaction that produces the replayed message and committed only once Kafka
-- acknowledged it: a second replay of the same offset finds the row (or waits for the
-- first one's outcome) and does nothing.
INSERT INTO dlq_replays (topic, partition, "offset", replayed_by, edited)
VALUES (%(topic)s, %(partition)s, %(offset)s, %(actor)s, %(edited)s)
ON CONFLICT (topic, partition, "offset") DO NOTHING
RETURNING replayed_at

-- name: dlq_replayed
SELECT partition, "offset", replayed_at FROM dlq_replays
WHERE topic = %(topic)s AND partition = ANY(%(partitions)s::integer[])

-- name: applied_migrations
-- `jobline migrate --status`: none applied when the table does not exist yet.
SELECT version, name, applied_at FROM schema_migrations ORDER BY version

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL
