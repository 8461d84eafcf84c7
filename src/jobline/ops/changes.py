"""One way to change many rows: select by ids or a filter, dry run, batches, progress, audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from jobline.errors import NotFound, UsageError
from jobline.ops.filters import JobFilter

#: ids changed per statement: big enough to be fast, small enough to hold locks briefly
BATCH_SIZE = 1000
#: rows a dry run shows
SAMPLE_SIZE = 10


class HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=HasId)

#: called after each batch with (rows done, rows matched)
Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True)
class Target:
    """What a change applies to: explicit ids, or every row a filter matches."""

    ids: tuple[int, ...] = ()
    where: JobFilter = field(default_factory=JobFilter)
    everything: bool = False

    def check(self, command: str) -> None:
        if self.ids and not self.where.is_empty():
            raise UsageError(f"{command}: give job ids or filters, not both")
        if not self.ids and self.where.is_empty() and not self.everything:
            raise UsageError(
                f"{command}: give job ids, at least one filter (--type, --config, --since, "
                "...), or --all to change every one; check the selection with --dry-run"
            )

    def as_json(self) -> dict[str, Any]:
        if self.ids:
            return {"ids": list(self.ids)}
        return self.where.as_json() or {"all": True}


@dataclass(frozen=True)
class ChangeResult(Generic[R]):
    """The outcome of a change, or of its dry run (then `changed` is 0)."""

    action: str
    matched: int
    changed: int
    dry_run: bool
    sample: list[R]


@dataclass(frozen=True)
class Change(Generic[R]):
    """How to walk and change one kind of row (jobs, failed jobs)."""

    action: str
    count: Callable[[], Awaitable[int]]
    page: Callable[[int, int], Awaitable[list[R]]]  # (after_id, limit)
    apply: Callable[[list[R]], Awaitable[int]]
    audit: Callable[[str, dict[str, Any], int], Awaitable[None]]  # (action, filter, affected)
    #: how the change was made (spread, reset_attempts, run_at), kept beside the filter
    options: dict[str, Any] = field(default_factory=dict)


def missing_ids(ids: Sequence[int], found: Sequence[HasId], what: str) -> None:
    missing = sorted(set(ids) - {r.id for r in found})
    if missing:
        shown = ", ".join(str(i) for i in missing[:20])
        raise NotFound(
            f"no {what} with id {shown}: nothing was changed; "
            f"list them with `jobline {what.split()[0]} list`"
        )


async def run_change(
    change: Change[R],
    target: Target,
    *,
    dry_run: bool,
    progress: Progress = no_progress,
    batch_size: int = BATCH_SIZE,
    sample_size: int = SAMPLE_SIZE,
) -> ChangeResult[R]:
    """Count, then (unless a dry run) change page after page and write one audit row."""
    matched = await change.count()
    if dry_run:
        sample = await change.page(0, sample_size)
        return ChangeResult(change.action, matched, 0, True, sample)
    done = changed = after_id = 0
    progress(0, matched)
    while done < matched:
        page = await change.page(after_id, batch_size)
        if not page:
            break
        changed += await change.apply(page)
        done += len(page)
        after_id = page[-1].id
        progress(min(done, matched), matched)
    await change.audit(change.action, {**target.as_json(), **change.options}, changed)
    return ChangeResult(change.action, matched, changed, False, [])
