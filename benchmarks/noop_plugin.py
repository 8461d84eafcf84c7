"""The benchmark's trivial job: `noop` does nothing, so a run measures jobline itself.

Loaded by the benchmarked server with JOBLINE_PLUGINS=benchmarks.noop_plugin:plugin and
PYTHONPATH set to the repository root.
"""

from __future__ import annotations

from typing import Any

from jobline import JobMeta, Plugin


async def noop(payload: Any, meta: JobMeta) -> None:
    pass


plugin = Plugin(name="bench", jobs={"noop": noop})
