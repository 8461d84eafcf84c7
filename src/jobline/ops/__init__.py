"""The operations layer: typed reads and audited, batched changes of jobs, failed jobs,
plugin configs, runners and the DLQ, for the `jobline` operator commands and the dashboard."""

from jobline.ops.changes import ChangeResult, Target
from jobline.ops.context import OpsContext, ops_context
from jobline.ops.filters import JobFilter, JobState

__all__ = ["ChangeResult", "JobFilter", "JobState", "OpsContext", "Target", "ops_context"]
