"""The pipeline on one screen: a Snapshot turned into plain rows (JSON) and a rich view."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from jobline.status.collect import Snapshot, dlq_size
from jobline.status.outcome import Outcome


@dataclass(frozen=True)
class PartitionRow:
    partition: int
    high_watermark: int | None
    stored_offset: int | None  # None: the intake never persisted from this partition
    lag: int | None
    last_persisted_age_s: float | None


def partition_rows(snap: Snapshot) -> list[PartitionRow]:
    """Lag = high watermark - stored offset (the jobs DB's truth, not Kafka's commit);
    with nothing stored, everything from the low watermark on is still to read."""
    marks = snap.kafka.jobs_marks.value or {}
    stored = snap.db.offsets.value or {}
    rows = []
    for p in sorted(set(marks) | set(stored)):
        mark, off = marks.get(p), stored.get(p)
        next_offset = off.next_offset if off is not None and off.next_offset >= 0 else None
        lag = None
        if mark is not None:
            lag = max(0, mark.high - (next_offset if next_offset is not None else mark.low))
        rows.append(
            PartitionRow(
                p,
                mark.high if mark else None,
                next_offset,
                lag,
                round(off.age_s, 1) if off is not None and off.next_offset >= 0 else None,
            )
        )
    return rows


def latest_dlq_size(snap: Snapshot) -> int | None:
    later = dlq_size(snap.kafka.dlq_marks_later)
    return later if later is not None else dlq_size(snap.kafka.dlq_marks)


def dlq_rate(snap: Snapshot, previous: Snapshot | None = None) -> float | None:
    """DLQ messages per second: since `previous`, or over this snapshot's own window."""
    now_size = latest_dlq_size(snap)
    if previous is not None:
        before, seconds = latest_dlq_size(previous), snap.taken_at - previous.taken_at
    elif snap.kafka.dlq_marks_later.value is not None:
        before, seconds = dlq_size(snap.kafka.dlq_marks), snap.window_s
    else:
        return None
    if now_size is None or before is None or seconds <= 0:
        return None
    return round((now_size - before) / seconds, 2)


def status_dict(snap: Snapshot, previous: Snapshot | None = None) -> dict[str, Any]:
    group = snap.kafka.group.value
    counts = snap.db.counts.value
    rows = partition_rows(snap)
    lags = [r.lag for r in rows if r.lag is not None]
    return {
        "taken_at": snap.taken_at,
        "kafka": snap.target.kafka_hosts,
        "topic": snap.target.jobs_topic,
        "partitions": [asdict(r) for r in rows],
        "lag": sum(lags) if lags else None,
        "intake": {
            "group": snap.target.group,
            "state": group.state if group else None,
            "members": [asdict(m) for m in group.members] if group else None,
        },
        "jobs": asdict(counts) if counts else None,
        "dlq": {
            "topic": snap.target.dlq_topic,
            "size": latest_dlq_size(snap),
            "rate_per_s": dlq_rate(snap, previous),
        },
        "errors": _errors(snap),
    }


def _errors(snap: Snapshot) -> dict[str, str]:
    probes: dict[str, Outcome[Any]] = {
        "kafka": snap.kafka.topics,
        "watermarks": snap.kafka.jobs_marks,
        "dlq": snap.kafka.dlq_marks,
        "intake_group": snap.kafka.group,
        "jobs_db": snap.db.latency,
        "jobs": snap.db.counts,
        "stored_offsets": snap.db.offsets,
    }
    return {name: o.error for name, o in probes.items() if o.error is not None}


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def render(data: dict[str, Any]) -> Group:
    """The rich view of `status_dict`: partitions, then intake, jobs, runners, DLQ."""
    parts = Table(
        "partition",
        "high watermark",
        "stored offset",
        "lag",
        "last persisted",
        title=f"topic {data['topic']} @ {data['kafka']}",
        title_justify="left",
    )
    for row in data["partitions"]:
        age = row["last_persisted_age_s"]
        parts.add_row(
            str(row["partition"]),
            _fmt(row["high_watermark"]),
            _fmt(row["stored_offset"]) if row["stored_offset"] is not None else "never",
            _fmt(row["lag"]),
            f"{age:,.1f} s ago" if age is not None else "never",
        )
    return Group(parts, _summary(data), *_error_lines(data))


def _summary(data: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    intake = data["intake"]
    members = intake["members"]
    who = ", ".join(f"{m['client_id']}@{m['host']} {m['partitions']}" for m in members or [])
    table.add_row("lag", _fmt(data["lag"]))
    table.add_row(
        "intake",
        f"group {intake['group']}: {intake['state'] or '-'}, "
        f"{_fmt(len(members) if members is not None else None)} member(s) {who}",
    )
    jobs = data["jobs"] or {}
    table.add_row(
        "jobs",
        "  ".join(
            f"{k} {_fmt(jobs.get(k))}"
            for k in ("due", "scheduled", "running", "retrying", "failed")
        ),
    )
    table.add_row("oldest due", _fmt(jobs.get("oldest_due_age_s"), " s"))
    table.add_row("runners", f"live {_fmt(jobs.get('live_runners'))}")
    dlq = data["dlq"]
    table.add_row(
        "DLQ", f"{dlq['topic']}: {_fmt(dlq['size'])} messages, {_fmt(dlq['rate_per_s'])}/s"
    )
    return table


def _error_lines(data: dict[str, Any]) -> list[Text]:
    return [Text(f"{name}: {error}", style="red") for name, error in data["errors"].items()]
