"""Test plugin with setup, storage, global and plugin logs."""

from __future__ import annotations

from typing import Any

from jobline import JobMeta, Plugin
from tests.plugins.recorder import record


async def setup(meta: Any) -> None:
    if meta.config.get("fail_setup"):
        raise RuntimeError("the plugin's API key is wrong")
    meta.global_["greeting"] = "hi"
    await meta.storage.set("setup_ran", True)


async def remember(payload: Any, meta: JobMeta) -> None:
    assert meta.storage is not None
    await meta.storage.set("n", payload["n"])
    stored = await meta.storage.get("n")
    assert meta.attachments is not None
    attached = await meta.attachments.get("motto.txt")
    motto = attached.data.decode() if attached else None
    meta.logger.info("remembered", n=stored, greeting=meta.global_.get("greeting"), motto=motto)
    await record(payload, meta)


plugin = Plugin(name="lifecycle", jobs={"remember": remember}, setup=setup)
