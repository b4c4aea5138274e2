"""``budgie keys create|list|revoke``: manage API keys on the server.

An operator's tool, run where Redis is reachable (on the API host, or ``docker compose exec api budgie
keys ...``): it writes the key store directly through ``core.apikeys`` with this machine's settings
(``REDIS_URL``, ``BUDGIE_KEY_PREFIX``), so it works before any key exists and needs no admin key.
"""

from __future__ import annotations

import json
import sys
import time

import click

from core.apikeys import DEFAULT_SCOPES, DEFAULT_TENANT, LIMIT_NAMES, SCOPES, ApiKey, ApiKeyError, ApiKeyStore


def _store() -> ApiKeyStore:
    import redis

    from core.settings import get_settings

    settings = get_settings()
    return ApiKeyStore(redis.Redis.from_url(settings.redis_url, decode_responses=True), settings.key_prefix)


def _public(key: ApiKey) -> dict[str, object]:
    """A key as listed: everything but its webhook secret."""
    return {k: v for k, v in key.items() if k != "webhook_secret"}


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp)) if stamp else "-"


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (talks to Redis directly: run it on the server)."""


@keys.command()
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--tenant", default=DEFAULT_TENANT, show_default=True, help="jobs are visible only within a tenant")
@click.option(
    "--scopes",
    default=",".join(DEFAULT_SCOPES),
    show_default=True,
    help=f"comma-separated, of: {', '.join(SCOPES)}",
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=VALUE",
    help=f"override a default quota for this key ({', '.join(LIMIT_NAMES)})",
)
@click.option("--json", "as_json", is_flag=True, help="print the key record and secrets as JSON")
def create(name: str, tenant: str, scopes: str, limits: tuple[str, ...], as_json: bool) -> None:
    """Create a key and print its secret (shown this once; only its SHA-256 digest is stored)."""
    try:
        parsed = {n.strip(): float(v) for n, _, v in (item.partition("=") for item in limits)}
    except ValueError as exc:
        raise click.UsageError(f"--limit takes NAME=NUMBER: {exc}") from exc
    try:
        created = _store().create(name, tenant, [s.strip() for s in scopes.split(",") if s.strip()], parsed)
    except ApiKeyError as exc:
        raise click.UsageError(str(exc)) from exc
    key = created.key
    if as_json:
        click.echo(json.dumps({**key, "secret": created.secret}, indent=2))
        return
    click.echo(f"key id:          {key['id']}  ({key['name']}, tenant {key['tenant']})")
    click.echo(f"scopes:          {' '.join(key['scopes'])}")
    click.echo(f"secret:          {created.secret}")
    click.echo(f"webhook secret:  {key['webhook_secret']}")
    click.echo("Store the secret now: it cannot be shown again (send it as 'Authorization: Bearer <secret>').")


@keys.command("list")
@click.option("--tenant", default=None, help="only this tenant's keys")
@click.option("--json", "as_json", is_flag=True)
def list_keys(tenant: str | None, as_json: bool) -> None:
    """List keys (never their secrets)."""
    found = _store().list(tenant)
    if as_json:
        click.echo(json.dumps([_public(k) for k in found], indent=2))
        return
    click.echo(f"{'ID':18} {'TENANT':16} {'NAME':24} {'SCOPES':36} {'CREATED':17} REVOKED")
    for k in found:
        click.echo(
            f"{k['id']:18} {k['tenant']:16} {k['name'][:24]:24} {','.join(k['scopes']):36} "
            f"{_when(k['created_at']):17} {_when(k['revoked_at'])}"
        )


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once on every API process."""
    try:
        key = _store().revoke(key_id)
    except ApiKeyError as exc:
        click.echo(f"budgie keys revoke: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key['id']} ({key['name']}, tenant {key['tenant']}) at {_when(key['revoked_at'])}")
