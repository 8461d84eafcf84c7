"""What the doctor reports: checks (status, evidence, meaning, action) and one verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    TIMEOUT = "timeout"  # the probe did not answer in time: as bad as a failure

    @property
    def rank(self) -> int:
        return {"ok": 0, "warn": 1, "fail": 2, "timeout": 2}[self.value]


class Stage(StrEnum):
    """The pipeline's stages, in the order a job passes them (the verdict's order)."""

    KAFKA = "Kafka"
    JOBS_DB = "jobs DB"
    INTAKE = "intake"
    RUNNERS = "runners"
    PRODUCERS = "producers"
    PLUGINS = "plugins"


STAGE_ORDER = list(Stage)


@dataclass(frozen=True)
class Action:
    text: str
    command: str | None = None


@dataclass(frozen=True)
class Check:
    name: str
    stage: Stage
    status: Status
    evidence: str
    meaning: str
    action: Action | None = None


@dataclass(frozen=True)
class Verdict:
    status: Status
    stage: Stage | None
    summary: str
    action: Action | None

    @property
    def exit_code(self) -> int:
        """0 ok, 1 warning, 2 failing (a timeout counts as failing)."""
        return self.status.rank


@dataclass(frozen=True)
class Deployment:
    """Where the jobs capability runs, for the restart command the verdict prints."""

    namespace: str
    name: str

    def restart(self) -> Action:
        return Action(
            f"restart the jobs deployment ({self.name})",
            f"kubectl rollout restart deployment/{self.name} -n {self.namespace}",
        )
