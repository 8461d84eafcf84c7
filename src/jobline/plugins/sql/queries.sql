-- Named queries of the main DB (plugin configs).

-- name: add_config
INSERT INTO plugin_configs (team_id, plugin, enabled, settings)
VALUES (%(team_id)s, %(plugin)s, %(enabled)s, %(settings)s::jsonb)
RETURNING id, team_id, plugin, enabled, settings

-- name: get_config
SELECT id, team_id, plugin, enabled, settings FROM plugin_configs WHERE id = %(id)s

-- name: get_configs
SELECT id, team_id, plugin, enabled, settings FROM plugin_configs WHERE id = ANY(%(ids)s::bigint[])

-- name: list_configs
SELECT id, team_id, plugin, enabled, settings FROM plugin_configs ORDER BY id

-- name: set_enabled
UPDATE plugin_configs SET enabled = %(enabled)s, updated_at = now()
WHERE id = %(id)s
RETURNING id, team_id, plugin, enabled, settings

-- name: enabled_configs_of_plugin
-- The configs a scheduled task of this plugin fires for.
SELECT id, team_id, plugin, enabled, settings FROM plugin_configs
WHERE plugin = %(plugin)s AND enabled ORDER BY id

-- name: storage_get
SELECT value FROM plugin_storage WHERE plugin_config_id = %(config_id)s AND key = %(key)s

-- name: storage_set
INSERT INTO plugin_storage (plugin_config_id, key, value)
VALUES (%(config_id)s, %(key)s, %(value)s::jsonb)
ON CONFLICT (plugin_config_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()

-- name: storage_delete
DELETE FROM plugin_storage WHERE plugin_config_id = %(config_id)s AND key = %(key)s

-- name: insert_plugin_logs
-- One statement for a batch of log entries (the writer flushes every half second).
INSERT INTO plugin_logs (plugin_config_id, level, message, fields, job_id, job_type, logged_at)
SELECT * FROM unnest(
    %(config_ids)s::bigint[], %(levels)s::text[], %(messages)s::text[], %(fields)s::jsonb[],
    %(job_ids)s::bigint[], %(job_types)s::text[], %(logged_ats)s::timestamptz[]
)

-- name: prune_plugin_logs
DELETE FROM plugin_logs WHERE logged_at < now() - make_interval(days => %(days)s)

-- name: plugin_logs_after
-- Entries of one config after an id, oldest first (`jobline logs --follow` pages by id).
SELECT id, level, message, fields, job_id, job_type, logged_at FROM plugin_logs
WHERE plugin_config_id = %(config_id)s AND id > %(after_id)s
ORDER BY id LIMIT %(limit)s

-- name: plugin_logs_tail
SELECT id, level, message, fields, job_id, job_type, logged_at FROM (
    SELECT * FROM plugin_logs WHERE plugin_config_id = %(config_id)s ORDER BY id DESC LIMIT %(limit)s
) t ORDER BY id

-- name: set_setup_error
-- NULL clears it. These columns do not notify the servers (see migration 0002).
UPDATE plugin_configs
SET setup_error = %(error)s,
    setup_failed_at = CASE WHEN %(error)s::text IS NULL THEN NULL ELSE now() END
WHERE id = %(id)s

-- name: attachment_get
SELECT name, content_type, data FROM plugin_attachments
WHERE plugin_config_id = %(config_id)s AND name = %(name)s

-- name: attachment_names
SELECT name FROM plugin_attachments WHERE plugin_config_id = %(config_id)s ORDER BY name

-- name: attachment_set
INSERT INTO plugin_attachments (plugin_config_id, name, content_type, data)
VALUES (%(config_id)s, %(name)s, %(content_type)s, %(data)s)
ON CONFLICT (plugin_config_id, name) DO UPDATE
SET content_type = EXCLUDED.content_type, data = EXCLUDED.data, updated_at = now()

-- name: attachment_delete
DELETE FROM plugin_attachments WHERE plugin_config_id = %(config_id)s AND name = %(name)s
