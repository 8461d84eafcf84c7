-- The jobs DB: queued jobs, permanently failed jobs, intake offsets, runner heartbeats.
-- Runs with search_path set to the project's schema (JOBLINE_SCHEMA, default `jobline`).

-- The hot table: only jobs that may still run. Rows leave it on success (deleted) or
-- on permanent failure (moved to failed_jobs), so it stays small and its index hot.
CREATE TABLE jobs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type             text        NOT NULL,
    plugin_config_id bigint      NOT NULL,
    team_id          bigint      NOT NULL,
    payload          jsonb       NOT NULL,
    meta             jsonb,                            -- extra message fields, kept and ignored
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,  -- failed attempts so far
    max_attempts     integer,                          -- NULL: the job type's default
    last_error       text,
    key              text,                             -- job key (dedupe / replace)
    key_mode         text        NOT NULL DEFAULT 'replace',
    queue_name       text,                             -- jobs of one queue run one at a time
    priority         smallint    NOT NULL DEFAULT 0,  -- lower runs first
    locked_by        text,                             -- runner id while it runs the job
    locked_at        timestamptz
);

-- Fetch path: due jobs are the unlocked ones; the partial index holds exactly those, in
-- fetch order, so the fetch is an ordered index scan even on a never-analyzed table.
CREATE INDEX jobs_due_idx ON jobs (priority, run_at, id) WHERE locked_by IS NULL;
-- Rescue path: jobs held by a given runner.
CREATE INDEX jobs_locked_by_idx ON jobs (locked_by) WHERE locked_by IS NOT NULL;
-- Queue heads: the earliest job of a named queue.
CREATE INDEX jobs_queue_idx ON jobs (queue_name, id) WHERE queue_name IS NOT NULL;
CREATE INDEX jobs_key_idx ON jobs (key) WHERE key IS NOT NULL;

-- Permanently failed jobs: out of the hot path, kept for inspection, retry or deletion.
CREATE TABLE failed_jobs (
    id               bigint      PRIMARY KEY,
    type             text        NOT NULL,
    plugin_config_id bigint      NOT NULL,
    team_id          bigint      NOT NULL,
    payload          jsonb       NOT NULL,
    meta             jsonb,
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    attempts         integer     NOT NULL,
    max_attempts     integer,
    last_error       text,
    key              text,
    queue_name       text,
    priority         smallint    NOT NULL,
    failed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX failed_jobs_failed_at_idx ON failed_jobs (failed_at);
CREATE INDEX failed_jobs_type_idx ON failed_jobs (type, plugin_config_id);

-- Intake: the next Kafka offset to read per partition, written in the same transaction
-- as the jobs read up to it (exactly-once from the topic into the jobs table).
CREATE TABLE intake_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Runner processes and their heartbeats: jobs locked by a runner whose heartbeat is
-- stale are rescued (unlocked, attempt counted).
CREATE TABLE runners (
    id           text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    capabilities text[]      NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
