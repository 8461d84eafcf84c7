"""meta.logger's buffer: bounded, oldest dropped and counted, never blocking. Pure."""

from __future__ import annotations

from jobline.metrics import PLUGIN_LOGS_DROPPED
from jobline.plugins.plugin_logs import PluginLogBuffer, PluginLogger


def test_the_logger_queues_entries_with_config_and_job() -> None:
    buffer = PluginLogBuffer()
    PluginLogger(buffer, 5, job_id=9, job_type="sync").info("synced", rows=3)
    [entry] = buffer.take(10)
    assert (entry.plugin_config_id, entry.level, entry.message) == (5, "info", "synced")
    assert (entry.job_id, entry.job_type, entry.fields) == (9, "sync", {"rows": 3})


def test_a_full_buffer_drops_the_oldest_and_counts_it() -> None:
    dropped = PLUGIN_LOGS_DROPPED._value.get()
    buffer = PluginLogBuffer(limit=2)
    logger = PluginLogger(buffer, 1)
    for n in range(3):
        logger.warning(f"line {n}")
    assert [e.message for e in buffer.take(10)] == ["line 1", "line 2"]
    assert PLUGIN_LOGS_DROPPED._value.get() == dropped + 1
