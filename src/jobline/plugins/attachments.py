"""meta.attachments: files attached to a plugin config, kept in the main DB."""

from __future__ import annotations

from dataclasses import dataclass

from jobline.plugins.configs import MainDB, Q

#: what `jobline configs attach` accepts; larger files belong in object storage
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


class PluginAttachments:
    def __init__(self, main_db: MainDB, plugin_config_id: int) -> None:
        self._db = main_db
        self._config_id = plugin_config_id

    async def get(self, name: str) -> Attachment | None:
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(
                Q["attachment_get"], {"config_id": self._config_id, "name": name}
            )
            row = await cur.fetchone()
        return Attachment(str(row[0]), str(row[1]), bytes(row[2])) if row else None

    async def names(self) -> list[str]:
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(Q["attachment_names"], {"config_id": self._config_id})
            return [str(r[0]) for r in await cur.fetchall()]

    async def set(self, attachment: Attachment) -> None:
        params = {
            "config_id": self._config_id,
            "name": attachment.name,
            "content_type": attachment.content_type,
            "data": attachment.data,
        }
        async with self._db.pool.connection() as conn:
            await conn.execute(Q["attachment_set"], params)

    async def delete(self, name: str) -> bool:
        async with self._db.pool.connection() as conn:
            cur = await conn.execute(
                Q["attachment_delete"], {"config_id": self._config_id, "name": name}
            )
            return cur.rowcount > 0
