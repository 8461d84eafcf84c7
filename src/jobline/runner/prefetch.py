"""How many jobs a runner holds fetched and locked beyond the running ones (its local queue).

Fixed when the operator sets JOBLINE_RUNNER_PREFETCH. Unset, it follows the work: about
`hold_s` worth of jobs at the runner's current completion rate, never fewer than the
concurrency, never more than `most`. Short jobs then come hundreds per fetch round trip,
while long jobs are never hoarded by one runner when another has free slots: at a low
completion rate the local queue shrinks back to the concurrency. Pure: the caller passes
the clock.
"""

from __future__ import annotations


class PrefetchSize:
    def __init__(
        self,
        fixed: int | None,
        least: int,
        most: int = 500,
        hold_s: float = 0.05,
        window_s: float = 1.0,
    ) -> None:
        self._fixed = fixed
        self._least = least
        self._most = max(most, least)
        self._hold_s = hold_s
        self._window_s = window_s
        self._window_start: float | None = None
        self._done_in_window = 0
        self._rate = 0.0  # completions per second over the last full window

    def completed(self) -> None:
        self._done_in_window += 1

    def size(self, now: float) -> int:
        if self._fixed is not None:
            return self._fixed
        if self._window_start is None:
            self._window_start = now
        elif now - self._window_start >= self._window_s:
            self._rate = self._done_in_window / (now - self._window_start)
            self._window_start, self._done_in_window = now, 0
        return int(min(self._most, max(self._least, self._rate * self._hold_s)))
