"""What every command shares: the client for ``--server``/``--api-key`` and one-line error reporting."""

from __future__ import annotations

import click

from budgie.client import BudgieError, Client, JobFailed

USAGE_STATUSES = {400, 404, 413}  # the server refused what was asked: a usage error (exit 2)


def client(ctx: click.Context) -> Client:
    """The client for the root options (``--server``, ``--api-key``; defaults from BUDGIE_URL/BUDGIE_API_KEY)."""
    options = ctx.find_root().params
    return Client(options.get("server"), api_key=options.get("api_key"))


def exit_code(exc: BudgieError) -> int:
    if isinstance(exc, JobFailed):
        return 1
    return 2 if exc.status in USAGE_STATUSES else 1


class Failure(click.ClickException):
    """One readable line on stderr and exit code 1: the job or the request failed."""

    @classmethod
    def of(cls, exc: BudgieError) -> click.ClickException:
        return UsageFailure(exc.message) if exit_code(exc) == 2 else Failure(exc.message)


class UsageFailure(Failure):
    """The server refused what was asked (unknown model, bad file, no such job): exit code 2."""

    exit_code = 2
