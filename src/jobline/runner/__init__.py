"""Runner: jobs DB -> handler -> delete (or retry, or move to failed jobs). DESIGN §6-§7."""

from jobline.runner.heartbeat import HeartbeatService
from jobline.runner.service import RunnerService, RunnerSettings

__all__ = ["HeartbeatService", "RunnerService", "RunnerSettings"]
