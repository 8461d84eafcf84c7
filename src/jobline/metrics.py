"""Every Prometheus metric of jobline, declared once; updated where the event happens.

Labels are job type, result and reason: bounded sets, never ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

JOBS_TRIGGERED = Counter(
    "jobline_jobs_triggered_total", "Jobs handed to the intake by this process", ["intake"]
)
JOBS_REFUSED = Counter(
    "jobline_jobs_refused_total", "Triggers refused before reaching the intake", ["reason"]
)

INTAKE_MESSAGES = Counter(
    "jobline_intake_messages_total",
    "Messages read from the jobs topic, by result (persisted, dlq, duplicate, skipped)",
    ["result"],
)
INTAKE_DLQ = Counter(
    "jobline_intake_dlq_total",
    "Messages sent to the DLQ, by reason (the codec's reasons, db_rejected)",
    ["reason"],
)
INTAKE_BATCH_SPLITS = Counter(
    "jobline_intake_batch_splits_total",
    "Times an intake batch was split in two to find the jobs the jobs DB refused",
)
INTAKE_BATCH_SECONDS = Histogram(
    "jobline_intake_batch_seconds",
    "Time to persist one intake batch (jobs and offsets in one transaction)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INTAKE_LAST_PERSISTED = Gauge(
    "jobline_intake_last_persisted_timestamp_seconds", "When the intake last persisted a job"
)

JOBS_RUN = Counter(
    "jobline_jobs_run_total",
    "Jobs run by result (success, retry, failed, postponed); job types no loaded plugin "
    "defines share the type `unknown`",
    ["type", "result"],
)
JOB_DURATION = Histogram(
    "jobline_job_duration_seconds",
    "Handler run time",
    ["type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
JOB_EXECUTION_LAG = Histogram(
    "jobline_job_execution_lag_seconds",
    "Start time minus run_at",
    ["type"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 3600),
)
JOBS_RESCUED = Counter(
    "jobline_jobs_rescued_total", "Jobs taken back from runners whose heartbeat stopped"
)
RUNNER_RUNNING = Gauge("jobline_runner_running_jobs", "Jobs running in this process now")
JOBS_NOT_RUN = Counter(
    "jobline_jobs_not_run_total",
    "Fetched jobs not handed to a handler, by reason (config_disabled, unknown_config, "
    "unknown_plugin, unknown_type, team_mismatch)",
    ["reason"],
)
RUNNER_ZOMBIE_THREADS = Gauge(
    "jobline_runner_zombie_threads",
    "Sync handlers still running in their thread past their job's timeout",
)
RUNNER_LOCK_LOST = Counter(
    "jobline_runner_lock_lost_total",
    "Outcomes not written because the job was no longer locked by this runner (rescued by "
    "a peer), by result",
    ["result"],
)
RUNNER_OUTCOMES_SET_ASIDE = Counter(
    "jobline_runner_outcomes_set_aside_total",
    "Outcomes the jobs DB refused for one job (a data error); the job is handed back instead",
)
RUNNER_ORPHANS_RELEASED = Counter(
    "jobline_runner_orphans_released_total",
    "Jobs locked by this runner that it did not know it held (a fetch whose answer was "
    "lost), released",
)

QUEUE_JOBS = Gauge(
    "jobline_queue_jobs",
    "Jobs in the jobs DB by state (due, scheduled, running, retrying, failed), sampled; "
    "failed: permanently failed jobs kept for inspection",
    ["state"],
)
QUEUE_OLDEST_DUE_AGE = Gauge(
    "jobline_queue_oldest_due_age_seconds", "How long the oldest due job has waited, sampled"
)
RUNNERS_LIVE = Gauge("jobline_runners_live", "Runner processes with a fresh heartbeat, sampled")
INTAKE_LAG = Gauge(
    "jobline_intake_consumer_lag",
    "Messages of this process's partitions not yet read (high watermark - position)",
)

SCHEDULER_TICKS = Counter(
    "jobline_scheduler_ticks_total",
    "Scheduled-task ticks by schedule (minute, hour, day, cron) and result: fired by this "
    "process, or skipped as stale (nobody fired them in time: missed, never fired late)",
    ["schedule", "result"],
)
SCHEDULER_JOBS_ENQUEUED = Counter(
    "jobline_scheduler_jobs_enqueued_total",
    "Jobs triggered for fired ticks (one per enabled plugin config with the task)",
    ["schedule"],
)
API_TRIGGERS = Counter(
    "jobline_api_triggers_total",
    "Triggers received by the HTTP trigger API, by response status (202, 401, 404, 413, 422, ...)",
    ["status"],
)
PLUGINS_FAILED = Gauge(
    "jobline_plugins_failed_to_load",
    "Plugins named in JOBLINE_PLUGINS or entry points that failed to load in this process "
    "(their jobs are postponed, the other plugins run); the log event plugin.load_failed says why",
)
PLUGIN_LOGS_DROPPED = Counter(
    "jobline_plugin_logs_dropped_total",
    "Plugin log entries dropped because the main DB did not keep up (the process log has them)",
)
PLUGIN_SETUPS = Counter(
    "jobline_plugin_setups_total",
    "Plugin setup() runs per plugin config, by result (ok, retry, errored)",
    ["result"],
)
# --- pipeline health (sampled by the one elected sampler, see runner/sampler.py) ----------
QUEUE_JOBS_STATES = ("due", "scheduled", "running", "retrying", "failed")
SAMPLER_LEADER = Gauge(
    "jobline_sampler_leader",
    "1 in the one process elected to sample the jobs DB and the topic's lag, 0 elsewhere",
)
JOBS_DB_CONNECTIONS_USED = Gauge(
    "jobline_jobs_db_connections_used", "Client connections open on the jobs DB's server, sampled"
)
JOBS_DB_CONNECTIONS_LIMIT = Gauge(
    "jobline_jobs_db_connections_limit",
    "max_connections minus superuser_reserved_connections of the jobs DB's server, sampled",
)
INTAKE_PARTITION_LAG = Gauge(
    "jobline_intake_partition_lag",
    "Per partition of the jobs topic: high watermark minus the offset stored in the jobs DB "
    "(measured from outside the intake, so it grows when no intake runs), sampled",
    ["partition"],
)
INTAKE_PARTITION_STORED_OFFSET = Gauge(
    "jobline_intake_partition_stored_offset",
    "Per partition: the next offset the intake will persist (jobs DB), -1 if none, sampled",
    ["partition"],
)

# --- intake progress (set by the intake where a batch is persisted) ------------------------
INTAKE_PARTITION_LAST_MESSAGE = Gauge(
    "jobline_intake_partition_last_message_timestamp_seconds",
    "Per partition: Kafka timestamp of the last message this intake persisted",
    ["partition"],
)
INTAKE_SKIPPED = Counter(
    "jobline_intake_skipped_total",
    "Messages dropped at the intake on purpose, by reason (skip_list: the operator's skip list)",
    ["reason"],
)


class _KafkaMessage(Protocol):
    def partition(self) -> int | None: ...

    def timestamp(self) -> tuple[int, int]: ...

    def error(self) -> object: ...


def note_persisted_messages(messages: Iterable[_KafkaMessage]) -> None:
    """After a batch is persisted: each partition's newest message timestamp, as a gauge.

    `time() - gauge` is how far the intake is behind the producers (what a
    consumer-delayed alert watches); it stops moving when the intake stops.
    """
    newest: dict[int, int] = {}
    for m in messages:
        kind, ms = m.timestamp()
        partition = m.partition()
        if m.error() is None and partition is not None and kind != 0 and ms > 0:
            newest[partition] = max(newest.get(partition, 0), ms)
    for partition, ms in newest.items():
        INTAKE_PARTITION_LAST_MESSAGE.labels(str(partition)).set(ms / 1000)
