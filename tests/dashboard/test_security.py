"""Who may see and change what: basic auth, a trusted header, read-only, same origin."""

from __future__ import annotations

import base64

import httpx
import pytest

from jobline.config import Settings
from jobline.dashboard.options import DashboardOptions, load_options
from jobline.dashboard.security import basic_user
from jobline.errors import ConfigError
from tests.dashboard.conftest import open_client
from tests.integration.ops_helpers import sql


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_a_post_without_origin_or_referer_is_refused(dash: httpx.AsyncClient) -> None:
    response = await dash.post("/runners/rescue", headers={"Origin": ""})
    assert response.status_code == 403
    assert "did not come from a dashboard page" in response.text


async def test_a_post_from_another_site_is_refused_and_changes_nothing(
    dash: httpx.AsyncClient, ops: Settings
) -> None:
    response = await dash.post("/configs/1/pause", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert sql(ops.jobs_database_url, ops.schema_name, "SELECT * FROM paused_configs") == []


async def test_a_same_origin_referer_is_enough(dash: httpx.AsyncClient) -> None:
    headers = {"Origin": "", "Referer": "http://dash.test/runners"}
    response = await dash.post("/runners/rescue", headers=headers)
    assert response.status_code == 303


async def test_read_only_refuses_changes_and_shows_no_action_button(ops: Settings) -> None:
    async for client in open_client(ops, DashboardOptions(read_only=True)):
        assert (await client.post("/runners/rescue")).status_code == 403
        page = (await client.get("/runners")).text
        assert "read-only" in page and "rescue dead runners" not in page


async def test_basic_auth_asks_then_names_the_user_in_the_audit_log(ops: Settings) -> None:
    options = DashboardOptions(user="oncall", password="pw")  # type: ignore[arg-type]
    async for client in open_client(ops, options):
        asked = await client.get("/")
        assert asked.status_code == 401
        assert asked.headers["www-authenticate"].startswith("Basic")
        assert (await client.get("/", headers=_basic("oncall", "nope"))).status_code == 401
        done = await client.post("/runners/rescue", headers=_basic("oncall", "pw"))
        assert done.status_code == 303
    actors = sql(ops.jobs_database_url, ops.schema_name, "SELECT actor FROM audit_log")
    assert actors == [("oncall",)]


async def test_a_trusted_header_names_the_user_and_its_absence_is_refused(ops: Settings) -> None:
    async for client in open_client(ops, DashboardOptions(trusted_header="X-Auth-User")):
        assert (await client.get("/")).status_code == 401
        done = await client.post("/runners/rescue", headers={"X-Auth-User": "ana@example.com"})
        assert done.status_code == 303
    actors = sql(ops.jobs_database_url, ops.schema_name, "SELECT actor FROM audit_log")
    assert actors == [("ana@example.com",)]


async def test_behind_an_auth_proxy_the_forwarded_host_is_the_origin_to_match(
    ops: Settings,
) -> None:
    async for client in open_client(ops, DashboardOptions(trusted_header="X-Auth-User")):
        headers = {
            "X-Auth-User": "ana",
            "Origin": "https://jobs.example.com",
            "X-Forwarded-Host": "jobs.example.com",
        }
        assert (await client.post("/runners/rescue", headers=headers)).status_code == 303
        headers["X-Forwarded-Host"] = "other.example.com"
        assert (await client.post("/runners/rescue", headers=headers)).status_code == 403


def test_a_user_without_a_password_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="JOBLINE_DASHBOARD_PASSWORD"):
        load_options(user="oncall")


@pytest.mark.parametrize(
    "header",
    [None, "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"oncall").decode()],
)
def test_malformed_basic_headers_name_no_user(header: str | None) -> None:
    assert basic_user(header, "oncall", "pw") is None
