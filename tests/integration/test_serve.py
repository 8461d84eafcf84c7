"""`jobline serve` probes: health, readiness that names the broken dependency, metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .helpers import ServeProcess, add_config, wait_until


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""  # not listening (yet)


def test_health_ready_and_metrics_answer(env: dict[str, str]) -> None:
    add_config(env)
    server = ServeProcess({**env, "JOBLINE_SAMPLE_INTERVAL_S": "0.2"}, "--mode", "jobs")
    try:
        server.wait_ready()
        assert _get(server.port, "/_health") == (200, '{"status": "ok"}')
        status, body = _get(server.port, "/_ready")
        services = json.loads(body)["services"]
        assert status == 200
        assert set(services) == {
            "http",
            "heartbeat",
            "config-watcher",
            "plugin-logs",
            "runner",
            "sampler",
            "intake",
        }

        def sampled() -> bool:
            return "jobline_runners_live 1.0" in _get(server.port, "/metrics")[1]

        wait_until(sampled, 15, "the sampler did not publish")
        metrics = _get(server.port, "/metrics")[1]
        for line in (
            'jobline_queue_jobs{state="due"} 0.0',
            "jobline_queue_oldest_due_age_seconds 0.0",
            "jobline_intake_batch_seconds_count",
            "jobline_intake_consumer_lag",
        ):
            assert line in metrics, line
    finally:
        assert server.stop() == 0


def test_readiness_is_false_and_names_kafka_when_kafka_is_unreachable(
    env: dict[str, str],
) -> None:
    add_config(env)
    server = ServeProcess({**env, "JOBLINE_KAFKA_HOSTS": "127.0.0.1:1"}, "--mode", "jobs")
    try:

        def kafka_named() -> bool:
            status, body = _get(server.port, "/_ready") if server.proc.poll() is None else (0, "")
            return status == 503 and "Kafka at 127.0.0.1:1 unreachable" in body

        wait_until(
            kafka_named,
            30,
            f"readiness did not name Kafka:\n{server.logs()[-3000:]}",
            interval_s=0.5,
        )
        assert _get(server.port, "/_health")[0] == 200  # alive, only not ready
    finally:
        assert server.stop() == 0
