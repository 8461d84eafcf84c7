"""Jobs the jobs DB refuses to store: telling them from an outage, and finding them.

A value PostgreSQL cannot store (a NUL in a string, a number out of range, a key over an
index's size limit) fails the whole batch's statement. That is the message's fault, not
the database's: the batch is split in savepoints until the refused jobs are alone, and
the rest is written. Only connection-level trouble is an outage (the caller retries).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow

from jobline.job import JobMessage
from jobline.store.params import JobEntry
from jobline.store.rows import RefusedJob

#: one message of an intake batch that has a job to write
Entry = JobEntry

WriteJobs = Callable[[psycopg.AsyncConnection[TupleRow], Sequence[JobMessage]], Awaitable[None]]

# SQLSTATE classes that name a value rather than the server: 22 data exception (bad
# text, bad JSON, out of range), 23 integrity constraint violation, 54 program limit
# exceeded (a value over an index row's size). Connection loss (08), shutdown (57P0x),
# resources (53), lock and serialization trouble (40, 55) and timeouts stay outages.
MESSAGE_FAULT_CLASSES = frozenset({"22", "23", "54"})

# What a refused job that psycopg stopped before sending (no SQLSTATE) is reported as.
CLIENT_SIDE_STATE = "client"


def is_message_fault(exc: BaseException) -> bool:
    """Did the jobs DB (or psycopg, before sending) refuse a value of the batch?"""
    if not isinstance(exc, psycopg.Error):
        return False
    if exc.sqlstate is None:
        # psycopg refuses some values itself (a NUL byte in a text parameter).
        return isinstance(exc, psycopg.DataError)
    return exc.sqlstate[:2] in MESSAGE_FAULT_CLASSES


def is_connection_error(exc: BaseException) -> bool:
    """Is the jobs DB out of reach (rather than answering with an error)?"""
    if isinstance(exc, psycopg_pool.PoolTimeout | OSError):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    # No SQLSTATE: libpq lost or never had the connection.
    state = exc.sqlstate
    return state is None or state.startswith("08") or state.startswith("57P0")


def describe(exc: psycopg.Error) -> str:
    """PostgreSQL's own words: primary message, then its detail."""
    primary = exc.diag.message_primary or str(exc).strip()
    detail = exc.diag.message_detail
    return f"{primary} ({detail})" if detail else primary


@dataclass
class Refusals:
    """What a split write found: the refused jobs, and how many times it split."""

    refused: list[RefusedJob] = field(default_factory=list)
    splits: int = 0

    def offsets(self) -> set[tuple[int, int]]:
        return {(r.partition, r.offset) for r in self.refused}


async def write_splitting(
    conn: psycopg.AsyncConnection[TupleRow],
    entries: Sequence[Entry],
    write: WriteJobs,
    found: Refusals,
    *,
    known_to_fail: bool = False,
) -> None:
    """Write `entries` in a savepoint; if the jobs DB refuses a value, write each half the
    same way, down to the single jobs it refuses. Halves go in order, so job keys end as
    the triggers would have left them one after the other."""
    if not (known_to_fail and len(entries) > 1) and await _settled(conn, entries, write, found):
        return
    found.splits += 1
    middle = len(entries) // 2
    refused_before = len(found.refused)
    await write_splitting(conn, entries[:middle], write, found)
    # The whole failed and its first half did not: the refused value is in the second half,
    # which is split at once rather than tried whole (each single job is still tried).
    first_half_clean = len(found.refused) == refused_before
    await write_splitting(conn, entries[middle:], write, found, known_to_fail=first_half_clean)


async def _settled(
    conn: psycopg.AsyncConnection[TupleRow],
    entries: Sequence[Entry],
    write: WriteJobs,
    found: Refusals,
) -> bool:
    """True once written, or once a single job is refused (recorded); False when a chunk
    of several is refused: the caller splits it."""
    try:
        async with conn.transaction():
            await write(conn, [job for _, _, job in entries])
        return True
    except psycopg.Error as exc:
        if not is_message_fault(exc):
            raise
        if len(entries) == 1:
            partition, offset, _ = entries[0]
            state = exc.sqlstate or CLIENT_SIDE_STATE
            found.refused.append(RefusedJob(partition, offset, state, describe(exc)))
            return True
        return False
