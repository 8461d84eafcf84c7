"""The latency scenario's job for jobline: `noop` prints trigger call -> handler start.

The trigger puts its wall-clock call time (ms) in the payload; the handler prints
`lat <ms>` to the server's stdout, which the benchmark reads back (same machine, same clock).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from jobline import JobMeta, Plugin


async def noop(payload: Any, meta: JobMeta) -> None:
    sys.stdout.write(f"lat {time.time() * 1000 - float(payload['t'])}\n")
    sys.stdout.flush()


plugin = Plugin(name="bench", jobs={"noop": noop})
