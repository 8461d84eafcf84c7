-- At most one queued job per (plugin config, key). A running job gives its key up when a
-- new trigger with the same key arrives (store/jobs_db.py), so the key always names the
-- job that will run next.
DROP INDEX jobs_key_idx;
CREATE UNIQUE INDEX jobs_key_idx ON jobs (plugin_config_id, key) WHERE key IS NOT NULL;
