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
