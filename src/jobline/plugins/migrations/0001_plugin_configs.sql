-- The main DB's plugin configs: one installation of a plugin for one team.
CREATE TABLE plugin_configs (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id    bigint      NOT NULL,
    plugin     text        NOT NULL,
    enabled    boolean     NOT NULL DEFAULT true,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plugin_configs_team_idx ON plugin_configs (team_id);
