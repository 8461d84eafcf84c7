"""What a job handler receives beside its payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from jobline.producer.trigger import ConfigJobs


# slots, not frozen: built once per run, and a frozen dataclass pays per field to build.
@dataclass(slots=True)
class JobMeta:
    #: the plugin config's settings
    config: dict[str, Any]
    team_id: int
    plugin_config_id: int
    #: trigger API bound to this plugin config: `meta.jobs.greet(p).run_in(seconds=5)`
    jobs: ConfigJobs
    job_id: int
    job_type: str
    #: 1 for the first run, 2 for the first retry, ...
    attempt: int
    logger: structlog.typing.FilteringBoundLogger
