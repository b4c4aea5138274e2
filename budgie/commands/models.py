"""``budgie models``: the server's model catalogue (a group, so more subcommands can join it)."""

from __future__ import annotations

import click

from budgie.commands.common import client


@click.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List the models the server can serve (id, state, languages, streaming)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [
        (m["id"], m["state"], ",".join(m["languages"]), m["streaming_mode"], ",".join(m.get("aliases") or []))
        for m in client(ctx).models()
    ]
    header = ("MODEL", "STATE", "LANGUAGES", "STREAMING", "ALIASES")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
