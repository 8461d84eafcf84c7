-- Files attached to a plugin config (a certificate, a mapping file, ...): handlers read
-- them as meta.attachments. Small by design: the CLI refuses files over 10 MB.
CREATE TABLE plugin_attachments (
    plugin_config_id bigint      NOT NULL REFERENCES plugin_configs (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    content_type     text        NOT NULL,
    data             bytea       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin_config_id, name)
);
