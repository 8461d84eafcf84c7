"""`jobline configs attach|detach`: files a plugin config's handlers read (meta.attachments)."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jobline.config import load_settings
from jobline.databases import main_db_for
from jobline.errors import ConfigError, UnknownPluginConfig
from jobline.logs import configure_logging
from jobline.migrator import opened
from jobline.plugins.attachments import MAX_ATTACHMENT_BYTES, Attachment, PluginAttachments
from jobline.plugins.configs import MainDB

out = Console(soft_wrap=True, highlight=False)


def _main_db() -> MainDB:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return main_db_for(settings)


def attach(
    config_id: Annotated[int, typer.Argument(help="plugin config id")],
    file: Annotated[Path, typer.Option("--file", help="the file to attach")],
    name: Annotated[str | None, typer.Option(help="name handlers use (default: file name)")] = None,
    content_type: Annotated[str | None, typer.Option("--content-type")] = None,
) -> None:
    """Attach a file to a plugin config (replaces one of the same name)."""
    if not file.is_file():
        raise ConfigError(
            f"--file {str(file)!r} is not a readable file (missing, a directory, or not "
            "permitted): pass the path of the file to attach"
        )
    size = file.stat().st_size
    if size > MAX_ATTACHMENT_BYTES:
        raise ConfigError(
            f"--file {str(file)!r} is {size:,} bytes, over the {MAX_ATTACHMENT_BYTES:,}-byte "
            "limit of attachments: keep large files in object storage and attach their URL"
        )
    kind = content_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    attachment = Attachment(name or file.name, kind, file.read_bytes())
    asyncio.run(_attach(_main_db(), config_id, attachment))
    out.print(f"attached {attachment.name!r} ({size:,} bytes, {kind}) to plugin config {config_id}")


async def _attach(db: MainDB, config_id: int, attachment: Attachment) -> None:
    async with opened(db, migrate_first=False):
        if await db.get_config(config_id) is None:
            raise UnknownPluginConfig(config_id)
        await PluginAttachments(db, config_id).set(attachment)


def detach(
    config_id: Annotated[int, typer.Argument(help="plugin config id")],
    name: Annotated[str, typer.Option(help="the attachment's name")],
) -> None:
    """Remove an attachment from a plugin config."""
    removed = asyncio.run(_detach(_main_db(), config_id, name))
    if not removed:
        raise ConfigError(
            f"plugin config {config_id} has no attachment {name!r}: see `jobline configs list`"
        )
    out.print(f"detached {name!r} from plugin config {config_id}")


async def _detach(db: MainDB, config_id: int, name: str) -> bool:
    async with opened(db, migrate_first=False):
        return await PluginAttachments(db, config_id).delete(name)
