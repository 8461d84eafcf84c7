-- Every change to a plugin config (by jobline or by a plain SQL statement) notifies the
-- servers, so that a disabled config stops getting jobs within a moment, without a restart.
-- The channel carries the schema, so that two installations in one database stay apart.
CREATE FUNCTION notify_plugin_config_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        TG_TABLE_SCHEMA || '.plugin_configs',
        CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END
    );
    RETURN NULL;
END
$$;

-- Only the columns that change what runs: writing a setup error must not notify, or the
-- servers would forget the config and set it up again in a loop.
CREATE TRIGGER plugin_configs_changed
AFTER INSERT OR DELETE OR UPDATE OF team_id, plugin, enabled, settings ON plugin_configs
FOR EACH ROW EXECUTE FUNCTION notify_plugin_config_change();

-- Per-config key-value storage of plugins (meta.storage).
CREATE TABLE plugin_storage (
    plugin_config_id bigint      NOT NULL REFERENCES plugin_configs (id) ON DELETE CASCADE,
    key              text        NOT NULL,
    value            jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin_config_id, key)
);

-- Plugin log entries (meta.logger), read per config by `jobline logs`; kept for a bounded
-- time (JOBLINE_PLUGIN_LOG_RETENTION_DAYS) by the writer's pruning.
CREATE TABLE plugin_logs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plugin_config_id bigint      NOT NULL,
    level            text        NOT NULL,
    message          text        NOT NULL,
    fields           jsonb,
    job_id           bigint,
    job_type         text,
    logged_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plugin_logs_config_idx ON plugin_logs (plugin_config_id, id);
CREATE INDEX plugin_logs_logged_at_idx ON plugin_logs (logged_at);

-- A config whose plugin's setup() kept failing: its jobs are postponed, and setup is tried
-- again later or at the config's next change; a setup that succeeds clears the error.
ALTER TABLE plugin_configs ADD COLUMN setup_error text;
ALTER TABLE plugin_configs ADD COLUMN setup_failed_at timestamptz;
