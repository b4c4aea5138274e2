"""``budgie stream FILE|-``: real-time transcription over the WebSocket, partials in place, finals on lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from budgie.commands.common import client


def _stdin_frames(frame_bytes: int) -> Iterator[bytes]:
    while chunk := sys.stdin.buffer.read(frame_bytes):
        yield chunk


@click.command()
@click.argument("source")
@click.option("--model", help="a streaming model id or alias (default: the server's default)")
@click.option("--language", help="language code (default: auto)")
@click.option("--fast", is_flag=True, help="send as fast as possible instead of at real time")
@click.option(
    "--sample-rate", type=click.IntRange(8000, 48000), default=16000, show_default=True, help="of raw PCM on stdin"
)
@click.option(
    "--encoding",
    type=click.Choice(["pcm_s16le", "linear16", "pcm_f32le", "mulaw", "alaw", "webm", "ogg"]),
    help="wire encoding: a FILE is encoded so before sending (mulaw/alaw at 8 kHz, Opus in WebM/Ogg); "
    "stdin is sent as is, declared as this encoding (default pcm_s16le)",
)
@click.option("--timestamps", is_flag=True, help="prefix finals with [start - end]")
@click.pass_context
def stream(
    ctx: click.Context,
    source: str,
    model: str | None,
    language: str | None,
    fast: bool,
    sample_rate: int,
    encoding: str | None,
    timestamps: bool,
) -> None:
    """Stream SOURCE (an audio file, or - for raw 16-bit little-endian mono PCM on stdin).

    Partial transcripts are redrawn in place on a terminal; each final goes on its own line on stdout.
    """
    if source == "-":
        audio: object = _stdin_frames(sample_rate // 10 * 2)  # 100 ms frames
    else:
        try:
            open(source, "rb").close()
        except OSError as exc:
            raise click.BadParameter(f"{source}: {exc.strerror}", param_hint="SOURCE") from exc
        audio = source
    live = sys.stdout.isatty()
    messages = client(ctx).stream(
        audio,  # type: ignore[arg-type]
        model=model,
        language=language,
        realtime=0.0 if fast else 1.0,
        sample_rate=sample_rate,
        encoding=encoding,
    )
    for message in messages:
        kind = message.get("type")
        if kind == "transcript.partial" and live:
            sys.stdout.write(f"\r\x1b[K{message['text']}")
            sys.stdout.flush()
        elif kind == "transcript.final":
            prefix = f"[{message['start']:7.2f} - {message['end']:7.2f}] " if timestamps else ""
            sys.stdout.write(("\r\x1b[K" if live else "") + prefix + message["text"] + "\n")
            sys.stdout.flush()
        elif kind == "warning":
            click.echo(f"budgie: warning: {message.get('message')}", err=True)
