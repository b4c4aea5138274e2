"""``budgie models``: the server's model catalogue (a group, so more subcommands can join it)."""

from __future__ import annotations

from pathlib import Path

import click

from budgie.commands.common import Failure, UsageFailure, client


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


@models.command("pull")
@click.argument("model_ids", nargs=-1, required=True, metavar="ID...")
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    help="also write <id>.nemo here (for an air-gapped host: serve it with source.path)",
)
def pull(model_ids: tuple[str, ...], to: Path | None) -> None:
    """Download models' weights into the local hub cache ahead of time (progress, SHA-256)."""
    from budgie.pull import PullError, pull_weights, registry_snippet
    from core.catalog import registry
    from core.settings import get_settings
    from registry import UnknownModelError

    settings = get_settings()
    try:
        entries = [registry().resolve(model_id) for model_id in model_ids]
    except UnknownModelError as exc:
        raise UsageFailure(str(exc)) from exc
    for entry in entries:
        click.echo(f"{entry.id}: {'fetching ' + entry.hub if entry.hub else 'local weights'}", err=True)
        try:
            pulled = pull_weights(entry, settings, to)
        except PullError as exc:
            raise Failure(str(exc)) from exc
        state = "downloaded" if pulled.downloaded else "already here"
        click.echo(f"{entry.id}\t{state}\t{pulled.path}\tsha256={pulled.sha256}")
        if to is not None:
            click.echo(f"  registry: {registry_snippet(pulled)}")
