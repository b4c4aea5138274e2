"""``budgie``: the command line. Each command group lives in its own module under budgie/commands and is
registered here with one line.

Exit codes: 0 success, 1 the job or request failed, 2 usage error. Errors are one readable line.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from budgie.client import BudgieError
from budgie.commands import jobs, models, stream, transcribe
from budgie.commands.common import Failure
from budgie.commands.keys import keys


class BudgieGroup(click.Group):
    """Turns a refused request or failed job anywhere below into one line and the promised exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BudgieError as exc:
            raise Failure.of(exc) from exc


@click.group(cls=BudgieGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--server", metavar="URL", help="Budgie server (default: $BUDGIE_URL, else http://127.0.0.1:8000)")
@click.option("--api-key", metavar="KEY", help="sent as Authorization: Bearer (default: $BUDGIE_API_KEY)")
def cli(server: str | None, api_key: str | None) -> None:
    """Budgie: self-hosted Parakeet speech-to-text."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Transcribe a file through a whole local stack (worker + API) on the embedded model."""
    from budgie.demo import main as demo_main

    sys.exit(demo_main(list(ctx.args)))


cli.add_command(keys)
cli.add_command(transcribe.transcribe)
cli.add_command(stream.stream)
cli.add_command(jobs.jobs)
cli.add_command(models.models)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
