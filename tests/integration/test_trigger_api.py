"""POST /api/plugin_configs/{id}/jobs on a real `jobline serve`: accepted jobs run."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .helpers import ServeProcess, add_config, scalar, wait_until

TOKEN = "test-token-1"


def _post(port: int, path: str, body: Any, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def api_server(env: dict[str, str], runs_table: str) -> Any:
    server = ServeProcess(
        {**env, "JOBLINE_API_TOKENS": f"other,{TOKEN}", "JOBLINE_MAX_MESSAGE_BYTES": "5000"},
        "--mode",
        "jobs",
    )
    server.wait_ready()
    yield server
    assert server.stop() == 0


def test_a_valid_trigger_is_accepted_and_its_job_runs(
    env: dict[str, str], runs_table: str, api_server: ServeProcess
) -> None:
    config_id = add_config(env)
    status, body = _post(
        api_server.port,
        f"/api/plugin_configs/{config_id}/jobs",
        {"type": "record", "payload": {"n": 7}},
    )
    assert status == 202, body
    assert body["type"] == "record" and body["plugin_config_id"] == config_id
    assert body["trigger_id"]

    def ran() -> bool:
        return (
            scalar(env["RECORDER_DATABASE_URL"], f"SELECT count(*) FROM {runs_table} WHERE n = 7")
            == 1
        )

    wait_until(ran, 30, "the triggered job did not run")


BAD_TRIGGERS: list[tuple[str | None, Any, int, str]] = [
    ("wrong", {"type": "record", "payload": {"n": 1}}, 401, "bearer token"),
    (None, {"type": "record", "payload": {"n": 1}}, 401, "bearer token"),
    (TOKEN, {"type": "record", "payload": {"n": "one"}}, 422, "type integer, got string"),
    (TOKEN, {"type": "record", "payload": {}}, 422, "required field 'n'"),
    (TOKEN, {"type": "record_sync", "payload": {"n": 1}}, 422, "not a public job"),
    (TOKEN, {"type": "record", "payload": {"n": 1}, "when": 3}, 400, "unknown field"),
    (TOKEN, b"{not json", 400, "not JSON"),
    (TOKEN, {"type": "record", "payload": {"n": 1, "pad": "x" * 6000}}, 413, "5,000 bytes"),
]


def test_bad_triggers_are_refused_with_the_reason(
    env: dict[str, str], api_server: ServeProcess
) -> None:
    config_id = add_config(env)
    for token, body, status, says in BAD_TRIGGERS:
        got, answer = _post(api_server.port, f"/api/plugin_configs/{config_id}/jobs", body, token)
        assert (got, says in answer.get("error", "")) == (status, True), (body, answer)


def test_a_config_of_a_plugin_this_server_does_not_load_is_refused_with_the_fix(
    env: dict[str, str], api_server: ServeProcess
) -> None:
    config_id = add_config(env, plugin="ticker")
    status, answer = _post(
        api_server.port,
        f"/api/plugin_configs/{config_id}/jobs",
        {"type": "record", "payload": {"n": 1}},
    )
    assert status == 422
    assert "'ticker'" in answer["error"] and "JOBLINE_PLUGINS" in answer["error"]


def test_an_unknown_plugin_config_is_not_found(api_server: ServeProcess) -> None:
    status, answer = _post(
        api_server.port, "/api/plugin_configs/999999/jobs", {"type": "record", "payload": {"n": 1}}
    )
    assert status == 404
    assert "999999" in answer["error"]
