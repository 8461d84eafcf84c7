"""The doctor's thresholds: where "fine" ends. Defaults suit a production jobs tier."""

from __future__ import annotations

from dataclasses import dataclass

from jobline.doctor.model import Deployment


@dataclass(frozen=True)
class DoctorOptions:
    deployment: Deployment
    #: JOBLINE_MAX_MESSAGE_BYTES: what the producer lets through
    max_message_bytes: int
    #: each probe's own deadline; the whole run stays under 10 s
    probe_timeout_s: float = 2.5
    #: how long moving parts (DLQ size, stored offsets) are watched for change
    window_s: float = 2.0
    #: a partition with lag that persisted nothing for this long is stalled
    stall_after_s: float = 60.0
    #: total lag above this is a warning even while the intake moves
    lag_warn: int = 100_000
    #: a transaction open longer than this is reported
    long_transaction_s: float = 60.0
    #: share of usable connections in use that warns / fails
    connections_warn: float = 0.8
    connections_fail: float = 0.95
    #: jobs DB round trip above this is a warning
    latency_warn_s: float = 0.25
    #: the oldest due job waiting longer than this, runners alive: runners are behind
    oldest_due_warn_s: float = 300.0
    #: permanent failures are counted over this window
    failures_window_s: float = 900.0
    #: dead rows in `jobs` above this (and above its live rows) point at autovacuum
    dead_rows_warn: int = 100_000
