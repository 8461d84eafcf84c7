"""POST /api/plugin_configs/{id}/jobs: a web app triggers a public job without the jobs DB.

Authenticated with a bearer token (JOBLINE_API_TOKENS), checked against the plugin's
public job spec, handed to the configured intake; 202 once the intake holds the job.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from jobline.errors import IntakeUnavailable, InvalidJob, JobTooLarge
from jobline.http.trigger_spec import BadTrigger, TriggerRequest, parse_trigger
from jobline.job.codec import validate_fields
from jobline.job.model import JobMessage
from jobline.logs import get_logger
from jobline.metrics import API_TRIGGERS
from jobline.plugins.configs import ConfigCache, PluginConfig
from jobline.plugins.registry import PluginRegistry
from jobline.producer.base import JobProducer

log = get_logger("jobline.http.api")

ROUTE = "/api/plugin_configs/{config_id}/jobs"


def _error(status: int, message: str) -> web.Response:
    API_TRIGGERS.labels(str(status)).inc()
    return web.json_response({"error": message}, status=status)


class TriggerApi:
    def __init__(
        self,
        tokens: Sequence[str],
        registry: PluginRegistry,
        configs: ConfigCache,
        producer: JobProducer,
        max_body_bytes: int,
    ) -> None:
        self._tokens = [t.encode() for t in tokens if t]
        self._registry = registry
        self._configs = configs
        self._producer = producer
        self._max_body_bytes = max_body_bytes

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self._trigger)

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip().encode()
        # compare_digest with every token: no early exit that times which one matched
        matches = [hmac.compare_digest(given, t) for t in self._tokens]
        return scheme.lower() == "bearer" and any(matches)

    async def _trigger(self, request: web.Request) -> web.Response:
        if not self._tokens:
            return _error(503, "the trigger API is off: set JOBLINE_API_TOKENS to enable it")
        if not self._authorized(request):
            return _error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
        try:
            config = await self._config(request.match_info["config_id"])
            body = await self._body(request)
            plugin = self._registry.get(config.plugin)
            if plugin is None:
                raise BadTrigger(
                    422,
                    f"plugin {config.plugin!r} of plugin config {config.id} is not loaded by "
                    "this API server: add it to this deployment's JOBLINE_PLUGINS",
                )
            trigger = parse_trigger(body, plugin, datetime.now(UTC))
            job = _message(trigger, config, str(uuid.uuid4()))
            await self._producer.send_async([job])
        except BadTrigger as exc:
            return _error(exc.status, str(exc))
        except JobTooLarge as exc:
            return _error(413, exc.detail)
        except InvalidJob as exc:
            return _error(422, exc.detail)
        except IntakeUnavailable as exc:
            return _error(503, str(exc))
        API_TRIGGERS.labels("202").inc()
        log.info("api.job_triggered", type=job.type, plugin_config_id=config.id)
        return web.json_response(_accepted(job), status=202)

    async def _config(self, raw_id: str) -> PluginConfig:
        config_id = int(raw_id) if raw_id.isdigit() else None
        config = None
        if config_id is not None:
            config = (await self._configs.get_many([config_id]))[config_id]
        if config is None:
            raise BadTrigger(404, f"plugin config {raw_id!r} does not exist")
        return config

    async def _body(self, request: web.Request) -> Any:
        size = request.content_length
        if size is None or size > self._max_body_bytes:
            raise BadTrigger(
                413,
                f"body of {size if size is not None else 'unknown'} bytes: the limit is "
                f"{self._max_body_bytes:,} bytes (JOBLINE_MAX_MESSAGE_BYTES); send a "
                "Content-Length and a smaller payload",
            )
        try:
            return json.loads(await request.read())
        except ValueError as exc:
            raise BadTrigger(400, f"the body is not JSON: {exc}") from None


def _message(trigger: TriggerRequest, config: PluginConfig, trigger_id: str) -> JobMessage:
    fields: dict[str, Any] = {
        "type": trigger.type,
        "payload": trigger.payload,
        "timestamp": int(trigger.run_at.timestamp() * 1000),
        "pluginConfigId": config.id,
        "pluginConfigTeam": config.team_id,
        "jobKey": trigger.options.get("key"),
        "queue": trigger.options.get("queue"),
        "priority": trigger.options.get("priority", 0),
        "maxAttempts": trigger.options.get("max_attempts"),
        "triggerId": trigger_id,  # kept in the job's meta: ties the job to this request
    }
    return validate_fields(fields)


def _accepted(job: JobMessage) -> dict[str, Any]:
    return {
        "trigger_id": (job.model_extra or {}).get("triggerId"),
        "type": job.type,
        "plugin_config_id": job.plugin_config_id,
        "team_id": job.team_id,
        "run_at": job.run_at.isoformat(),
    }
