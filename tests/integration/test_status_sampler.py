"""The sampler behind `jobline_queue_*` and the lag gauges: one elected process samples."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from jobline.config import Settings
from jobline.runner.sampler import IntakeWatch, SamplerService
from jobline.store import JobsDB


def _sampler(jobs_db: JobsDB, settings: Settings) -> SamplerService:
    return SamplerService(
        jobs_db,
        interval_s=0.2,
        dead_after_s=30,
        intake=IntakeWatch(settings.kafka_hosts, settings.jobs_topic, settings.intake_group),
    )


async def _until(predicate: object, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_only_one_sampler_samples_and_another_takes_over_when_it_stops(
    jobs_db: JobsDB, settings: Settings
) -> None:
    first, second = _sampler(jobs_db, settings), _sampler(jobs_db, settings)
    await first.start()
    await _until(lambda: first.leader, 5)
    await second.start()
    try:
        await asyncio.sleep(0.6)  # three of the second's intervals
        assert first.leader and not second.leader
        assert "standby" in second.status().detail

        await first.stop(1.0)  # its connection closes, and with it the lock
        await _until(lambda: second.leader, 5)
        assert REGISTRY.get_sample_value("jobline_sampler_leader") == 1
    finally:
        await second.stop(1.0)
        await first.stop(1.0)
