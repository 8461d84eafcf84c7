-- Operations: what operators change by hand, and the record of who changed what.

-- One row per operator change (jobline jobs cancel, failed retry, configs pause, ...):
-- who ran it, what it did, the filter it was given and how many rows it touched.
CREATE TABLE audit_log (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text        NOT NULL,
    action   text        NOT NULL,
    filter   jsonb       NOT NULL,
    affected integer     NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- A paused config's jobs stay stored but the runners' fetch passes them by (fetch_due).
-- Tiny table: read by primary key inside the fetch.
CREATE TABLE paused_configs (
    plugin_config_id bigint      PRIMARY KEY,
    paused_at        timestamptz NOT NULL DEFAULT now(),
    paused_by        text        NOT NULL
);

-- A skipped config's triggers are dropped at the intake (counted as `skipped`); the intake
-- re-reads this table every few seconds, so a skip takes effect without a restart.
CREATE TABLE skipped_configs (
    plugin_config_id bigint      PRIMARY KEY,
    skipped_at       timestamptz NOT NULL DEFAULT now(),
    skipped_by       text        NOT NULL
);

-- Every DLQ message replayed into the jobs topic, so that it is never replayed twice.
CREATE TABLE dlq_replays (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    "offset"     bigint      NOT NULL,
    replayed_at  timestamptz NOT NULL DEFAULT now(),
    replayed_by  text        NOT NULL,
    edited       boolean     NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
);

-- Drain: set by `jobline runners drain`; the runner reads it with its heartbeat and stops
-- fetching (it keeps running what it holds, and keeps beating).
ALTER TABLE runners ADD COLUMN drain_requested_at timestamptz;

-- A failed job's error with the parts that differ between occurrences of the same cause
-- (uuids, long hex strings, numbers) replaced, so `jobline failed list --group` can count
-- failures by cause. Immutable: usable in GROUP BY and in filters.
CREATE FUNCTION error_fingerprint(error text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(regexp_replace(regexp_replace(regexp_replace(coalesce(error, ''),
        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
        '\m(0x[0-9a-f]+|[0-9a-f]{8,})\M', '<hex>', 'gi'),
        '[0-9]+', '<n>', 'g'), 300)
$$;
