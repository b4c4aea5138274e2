"""``budgie transcribe FILE...``: batch-transcribe files concurrently with a live progress line per file."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from budgie.client import BudgieError, Client, JobFailed
from budgie.commands.common import client, exit_code

FORMATS = ("txt", "json", "srt", "vtt")
BAR = 20


class Board:
    """One progress line per file. On a terminal the lines are redrawn in place; otherwise a line is
    printed whenever a file's stage or state changes (so logs stay readable)."""

    def __init__(self, names: list[str]):
        self.names = names
        self.width = max(len(n) for n in names)
        self.lines = {n: self._line(n, "queued", None, 0.0) for n in names}
        self.lock = threading.Lock()
        self.live = sys.stderr.isatty()
        self.drawn = False

    def _line(self, name: str, status: str, stage: str | None, progress: float) -> str:
        filled = round(progress * BAR)
        bar = "#" * filled + "-" * (BAR - filled)
        return f"{name:<{self.width}}  {status:<9}  {stage or '':<10}  [{bar}] {progress * 100:3.0f}%"

    def update(self, name: str, status: str, stage: str | None = None, progress: float = 0.0) -> None:
        line = self._line(name, status, stage, progress)
        with self.lock:
            changed = self.lines[name].split("[")[0] != line.split("[")[0]
            self.lines[name] = line
            if self.live:
                self._redraw()
            elif changed:
                click.echo(line, err=True)

    def _redraw(self) -> None:
        if self.drawn:
            sys.stderr.write(f"\x1b[{len(self.names)}A")
        sys.stderr.write("".join(f"\r\x1b[K{self.lines[n]}\n" for n in self.names))
        sys.stderr.flush()
        self.drawn = True


def output_path(source: Path, fmt: str, output_dir: Path | None) -> Path:
    return (output_dir / f"{source.stem}.{fmt}") if output_dir else source.with_suffix(f".{fmt}")


def run_one(api: Client, source: Path, options: dict[str, Any], board: Board) -> tuple[Path | None, BudgieError | None]:
    """Submit, follow and export one file; returns (written path, None) or (None, the error)."""
    name = str(source)

    def progress(job: dict[str, Any]) -> None:
        board.update(name, job["status"], job.get("current_stage"), float(job.get("progress") or 0.0))

    try:
        created = api.submit(source, model=options["model"], diarize=options["diarize"], language=options["language"])
        board.update(name, "pending")
        job = api.wait(created["id"], on_progress=progress)
        if job["status"] != "completed":
            raise JobFailed(job)
        out = output_path(source, options["fmt"], options["output_dir"])
        out.write_text(api.export(job["id"], options["fmt"]), encoding="utf-8")
        return out, None
    except BudgieError as exc:
        board.update(name, "failed")
        return None, exc


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", help="registry id or alias (default: the server's default model)")
@click.option("--diarize", is_flag=True, help="label speakers")
@click.option("--language", help="language code the model supports (default: auto)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="txt", show_default=True)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write here instead of next to each input",
)
@click.option("-j", "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="files at once")
@click.pass_context
def transcribe(
    ctx: click.Context,
    files: tuple[Path, ...],
    model: str | None,
    diarize: bool,
    language: str | None,
    fmt: str,
    output_dir: Path | None,
    concurrency: int,
) -> None:
    """Transcribe FILES on the server; each result is written as FILE's name with the format's extension."""
    api = client(ctx)
    if output_dir:
        output_dir.mkdir(parents=True, exist_ok=True)
    options = {"model": model, "diarize": diarize, "language": language, "fmt": fmt, "output_dir": output_dir}
    board = Board([str(f) for f in files])
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda f: run_one(api, f, options, board), files))
    codes = []
    for source, (out, error) in zip(files, results, strict=True):
        if error is None:
            click.echo(f"{source} -> {out}")
        else:
            click.echo(f"budgie: {source}: {error.message}", err=True)
            codes.append(exit_code(error))
    if codes:
        ctx.exit(1 if 1 in codes else 2)
