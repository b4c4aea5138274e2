"""``budgie jobs list|show|cancel|delete``: batch jobs on the server."""

from __future__ import annotations

import json
import time

import click

from budgie.commands.common import client

STATUSES = ("pending", "running", "completed", "failed", "cancelled")


@click.group()
def jobs() -> None:
    """List, inspect, cancel and delete batch jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="only jobs in this state")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.pass_context
def list_jobs(ctx: click.Context, status: str | None, limit: int) -> None:
    """Jobs, newest first: id, status, model, created, audio duration."""
    page = client(ctx).jobs(limit=limit, status=status)
    for job in page["jobs"]:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job["created_at"]))
        duration = f"{job['duration']:.1f}s" if job.get("duration") is not None else "-"
        click.echo(f"{job['id']}  {job['status']:<9}  {job.get('model') or '-':<18}  {created}  {duration}")
    if page["has_more"]:
        click.echo(f"(more: --limit {min(limit * 2, 100)})", err=True)


@jobs.command()
@click.argument("job_id")
@click.pass_context
def show(ctx: click.Context, job_id: str) -> None:
    """The whole job as JSON (status, stages, and the transcript once completed)."""
    click.echo(json.dumps(client(ctx).job(job_id), indent=2, ensure_ascii=False))


@jobs.command()
@click.argument("job_id")
@click.pass_context
def cancel(ctx: click.Context, job_id: str) -> None:
    """Cancel a pending or running job."""
    job = client(ctx).cancel(job_id)
    click.echo(f"{job['id']} {job['status']}")


@jobs.command()
@click.argument("job_id")
@click.pass_context
def delete(ctx: click.Context, job_id: str) -> None:
    """Delete a job and its files (a running job is cancelled first)."""
    client(ctx).delete(job_id)
    click.echo(f"{job_id} deleted")
