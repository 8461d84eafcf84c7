"""JobsDB: every read and write of the jobs DB, by name, composed from the store's parts.

Each part is a module by who uses it, over one connection layer (connection.py):
intake_writes.py (the intake and direct triggers), runner_ops.py (the runner) and
inspection.py (readiness, metrics, tools). ops uses admin.py over the same pools. The
protocols of what the runner and the intake need are in ports.py, with an in-memory
implementation for tests in memory.py.
"""

from __future__ import annotations

from jobline.store.connection import FETCH_CONNECTION_OPTIONS, notify_channel
from jobline.store.inspection import Inspection
from jobline.store.intake_writes import IntakeWrites
from jobline.store.params import DeadLetter, OffsetRange
from jobline.store.runner_ops import RunnerOps

__all__ = ["FETCH_CONNECTION_OPTIONS", "DeadLetter", "JobsDB", "OffsetRange", "notify_channel"]


class JobsDB(IntakeWrites, RunnerOps, Inspection):
    """A pool of connections to the jobs DB, every statement in the project's schema."""
