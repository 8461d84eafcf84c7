"""`jobline audit`: the operator changes recorded in the jobs DB's audit_log."""

from __future__ import annotations

import json

from rich.table import Table

from jobline.cli.common import Json, Limit, cli_settings, out, print_json, run
from jobline.ops.context import ops_context
from jobline.store.admin_rows import AuditEntry


def audit(limit: Limit = 50, as_json: Json = False) -> None:
    """The latest operator changes: who, what, the filter, how many rows."""
    settings = cli_settings()

    async def go() -> list[AuditEntry]:
        async with ops_context(settings) as ctx:
            return await ctx.store.recent_audit(limit)

    entries = run(go())
    if as_json:
        print_json(entries)
        return
    table = Table("id", "at", "actor", "action", "filter", "rows")
    for e in entries:
        table.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            json.dumps(e.filter),
            str(e.affected),
        )
    out.print(table)
