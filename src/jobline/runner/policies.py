"""What the runner applies to a job type: its retry policy, its timeout, its metric label."""

from __future__ import annotations

from dataclasses import dataclass, replace

from jobline.plugins.plugin import JobDefinition
from jobline.plugins.registry import PluginRegistry
from jobline.retry import RetryPolicy

#: The metric label of job types no loaded plugin defines (keeps label values bounded).
UNKNOWN_TYPE_LABEL = "unknown"


@dataclass(frozen=True)
class ExecutionPolicy:
    default_timeout_s: float
    #: the process's default (JOBLINE_MAX_ATTEMPTS, JOBLINE_RETRY_BASE_S / _CAP_S)
    retry: RetryPolicy
    #: a disabled config's job is postponed this long
    disabled_config_delay_s: float = 60.0
    #: a job this runner cannot run (unknown config, plugin or type) is postponed with
    #: backoff for this long before it fails (an old runner during a rolling deploy)
    unknown_give_up_s: float = 3600.0


class JobPolicies:
    """Per job type: retry policy (definition's max_attempts over the default), timeout."""

    def __init__(self, registry: PluginRegistry, policy: ExecutionPolicy) -> None:
        self.policy = policy
        self._limits: dict[str, int] = {}
        for name in registry.names():
            plugin = registry.get(name)
            assert plugin is not None
            for job_type in plugin.jobs:
                definition = plugin.job(job_type)
                limit = (definition.max_attempts if definition else None) or 0
                # Two plugins may share a type name; the rescue takes the larger limit.
                self._limits[job_type] = max(self._limits.get(job_type, 0), limit)

    def retry_of(self, definition: JobDefinition) -> RetryPolicy:
        if definition.max_attempts is None:
            return self.policy.retry
        return replace(self.policy.retry, max_attempts=definition.max_attempts)

    def timeout_of(self, definition: JobDefinition) -> float:
        return definition.timeout_s or self.policy.default_timeout_s

    def max_attempts_of_type(self, job_type: str) -> int:
        """The attempts limit of a job type, without knowing its plugin (the rescue)."""
        return self._limits.get(job_type) or self.policy.retry.max_attempts

    def label(self, job_type: str) -> str:
        return job_type if job_type in self._limits else UNKNOWN_TYPE_LABEL
