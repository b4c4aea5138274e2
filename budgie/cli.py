"""``budgie``: the command line. Each command group lives in its own module and is added here.

Exit codes: 0 success, 1 the job or request failed, 2 usage error. Errors are one readable line.
"""

from __future__ import annotations

import sys

import click

from budgie.commands.keys import keys


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Budgie: self-hosted Parakeet speech-to-text."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Transcribe a file through a whole local stack (worker + API) on the embedded model."""
    from budgie.demo import main as demo_main

    sys.exit(demo_main(list(ctx.args)))


cli.add_command(keys)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
