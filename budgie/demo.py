"""``budgie-demo``: transcribe a file through the whole Budgie stack on this machine.

Starts a real Celery worker and the Flask API on a free loopback port, POSTs the audio over
HTTP, polls the job and prints the transcript with word times. No Docker and no GPU needed: it
runs the embedded CPU model ``parakeet-tiny-en`` by default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from budgie.localstack import ROOT, LocalStack
from core.settings import get_settings

SAMPLE = ROOT / "samples" / "budgie-demo.wav"


def _default_redis_url() -> str:
    settings = get_settings()
    return settings.redis_url if "redis_url" in settings.model_fields_set else "redis://127.0.0.1:6379/12"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Transcribe a file through the whole Budgie stack on this machine.")
    parser.add_argument("audio", nargs="?", type=Path, default=SAMPLE, help="audio file (default: a bundled sample)")
    parser.add_argument("--model", default="parakeet-tiny-en", help="registry id or alias")
    parser.add_argument(
        "--redis-url",
        default=_default_redis_url(),
        help="default: $REDIS_URL when set, else db 12 of the local Redis (not a deployment's db 0)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole job JSON")
    args = parser.parse_args(argv)
    if not args.audio.exists():
        parser.error(f"{args.audio} does not exist")
    print(f"budgie-demo: starting a worker for {args.model} and the API ...", file=sys.stderr)
    with LocalStack([args.model], args.redis_url) as stack:
        job = stack.transcribe(args.audio, model=args.model)
    if args.json:
        print(json.dumps(job, indent=2))
    elif job["status"] != "completed":
        print(f"job {job['id']} {job['status']}: {job.get('error')}")
    else:
        print(
            f"job {job['id']} completed in {job['wall_seconds']}s ({job['duration']}s of audio, model {job['model']})"
        )
        print(f"text: {job['text']}")
        for word in job["words"]:
            print(f"  {word['start']:7.2f} {word['end']:7.2f}  {word['text']}  ({word['confidence']:.2f})")
    return 0 if job["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
