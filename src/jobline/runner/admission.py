"""May this runner run this job now? Its definition, or the outcome of not running it.

- team_id differs from its plugin config's team: refused, failed at once (`team_mismatch`):
  a job never runs with another team's config and settings.
- config, plugin or job type unknown here: postponed with backoff (an old runner in a
  rolling deploy, a plugin not yet installed on this pod), for up to
  JOBLINE_UNKNOWN_JOB_GIVE_UP_S after it was first met, then failed with the reason.
- config disabled: postponed (JOBLINE_DISABLED_CONFIG_DELAY_S), for as long as it stays so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobline.logs import get_logger
from jobline.metrics import JOBS_NOT_RUN, JOBS_RUN
from jobline.plugins.configs import PluginConfig
from jobline.plugins.plugin import JobDefinition
from jobline.plugins.registry import PluginRegistry
from jobline.retry import postpone_delay_s
from jobline.runner.outcome import Outcome, Result
from jobline.runner.policies import JobPolicies
from jobline.store import FetchedJob

log = get_logger("jobline.runner")

#: The first look again at a job this runner cannot run; later ones back off from there.
UNKNOWN_FIRST_DELAY_S = 5.0
#: The longest wait between two looks at such a job.
UNKNOWN_MAX_DELAY_S = 300.0


class Admission:
    def __init__(self, registry: PluginRegistry, policies: JobPolicies) -> None:
        self._registry = registry
        self._policies = policies

    def decide(self, job: FetchedJob, config: PluginConfig | None) -> JobDefinition | Outcome:
        if config is None:
            return self._unrunnable(
                job,
                "unknown_config",
                f"plugin config {job.plugin_config_id} does not exist in the main DB (deleted?)",
            )
        if config.team_id != job.team_id:
            return self._refuse(
                job,
                "team_mismatch",
                f"job of team {job.team_id} names plugin config {config.id} of team "
                f"{config.team_id}: refused; the trigger's pluginConfigTeam must be its "
                "config's team",
            )
        plugin = self._registry.get(config.plugin)
        if plugin is None:
            return self._unrunnable(
                job,
                "unknown_plugin",
                f"plugin {config.plugin!r} is not loaded by this runner "
                f"(loaded: {self._registry.names()}); install it or fix JOBLINE_PLUGINS",
            )
        definition = plugin.job(job.type)
        if definition is None:
            return self._unrunnable(
                job,
                "unknown_type",
                f"plugin {plugin.name!r} defines no job {job.type!r} "
                f"(it defines {sorted(plugin.jobs)})",
            )
        if not config.enabled:
            return self._postpone(
                job,
                "config_disabled",
                "plugin config disabled",
                self._policies.policy.disabled_config_delay_s,
                unrunnable=False,
            )
        return definition

    def setup_failing(self, job: FetchedJob, error: str) -> Outcome:
        """The plugin's setup keeps failing for this config: postponed, not an attempt."""
        delay_s = self._policies.policy.disabled_config_delay_s
        return self._postpone(job, "setup_failing", error, delay_s, unrunnable=False)

    def _unrunnable(self, job: FetchedJob, reason: str, error: str) -> Outcome:
        now = datetime.now(UTC)
        waited_s = (now - job.unrunnable_since).total_seconds() if job.unrunnable_since else 0.0
        give_up_s = self._policies.policy.unknown_give_up_s
        if waited_s >= give_up_s:
            return self._refuse(
                job,
                reason,
                f"{error}; still so {waited_s:.0f} s after this was first met "
                f"(JOBLINE_UNKNOWN_JOB_GIVE_UP_S={give_up_s:g})",
            )
        delay_s = postpone_delay_s(waited_s, UNKNOWN_FIRST_DELAY_S, UNKNOWN_MAX_DELAY_S)
        return self._postpone(job, reason, error, delay_s, unrunnable=True)

    def _postpone(
        self, job: FetchedJob, reason: str, detail: str, delay_s: float, *, unrunnable: bool
    ) -> Outcome:
        JOBS_NOT_RUN.labels(reason).inc()
        JOBS_RUN.labels(self._policies.label(job.type), Result.POSTPONED.value).inc()
        log.info(
            "job.postponed",
            job_id=job.id,
            type=job.type,
            plugin_config_id=job.plugin_config_id,
            team_id=job.team_id,
            reason=reason,
            detail=detail,
            retry_in_s=round(delay_s, 1),
        )
        retry_at = datetime.now(UTC) + timedelta(seconds=delay_s)
        return Outcome(job.id, Result.POSTPONED, retry_at=retry_at, unrunnable=unrunnable)

    def _refuse(self, job: FetchedJob, reason: str, error: str) -> Outcome:
        # Kept in failed_jobs (not dropped): an operator can fix the cause and retry it.
        JOBS_NOT_RUN.labels(reason).inc()
        JOBS_RUN.labels(self._policies.label(job.type), Result.FAILED.value).inc()
        log.warning(
            "job.not_runnable",
            job_id=job.id,
            type=job.type,
            reason=reason,
            plugin_config_id=job.plugin_config_id,
            team_id=job.team_id,
            error=error,
        )
        return Outcome(job.id, Result.FAILED, error=f"{reason}: {error}")
