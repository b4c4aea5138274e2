"""Faults under load: N jobs while the transcribe worker is SIGKILLed at random and Redis restarts.

A Redis of its own (AOF on, as deployed), a CPU worker (prepare, merge) and a transcribe worker for
the embedded model, the API in this process. While the jobs run, the transcribe worker is killed
``--kills`` times mid-stage (and started again at once, as a supervisor would), and Redis is shut
down and restarted once. Then every job must end ``completed``.

    python bench/faults.py                      # 50 jobs, 2 kills, 1 Redis restart
    python bench/faults.py --jobs 20 --kills 1

Prints ``RESULT lost=… recovered_p95_s=… errors=…``: jobs not completed by the deadline, the p95 time
from a kill to the completion of the job it interrupted, and requests that failed with anything but
a retryable 503 (retried as ``Retry-After`` says).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "parakeet-tiny-en"
SENTENCES = [
    "the people of the town went to the market every morning",
    "she said that the weather would be fine for the rest of the week",
    "he opened the door and looked out at the quiet street",
    "we will meet again when the work is done",
]


class Redis:
    def __init__(self, workdir: Path):
        from budgie.localstack import free_port

        self.port, self.workdir, self.proc = free_port(), workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        cmd += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: Redis flushes its AOF and exits
        self.proc.wait(30)


class Errors:
    def __init__(self) -> None:
        self.count, self.lock = 0, threading.Lock()

    def add(self, what: str) -> None:
        with self.lock:
            self.count += 1
        print(f"error: {what}", file=sys.stderr)


def patiently(call, errors: Errors, what: str):
    """Call ``call()``; a 503 is retried after its Retry-After, anything else counts as an error."""
    from budgie.client import BudgieError

    for _ in range(120):
        try:
            return call()
        except BudgieError as exc:
            if exc.status == 503 or exc.status is None:  # Redis restarting (or the API briefly unreachable)
                time.sleep(1.0)
                continue
            errors.add(f"{what}: {exc.status} {exc}")
            return None
    errors.add(f"{what}: still unavailable after 2 minutes")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--lease-s", type=float, default=30.0, help="BUDGIE_STAGE_LEASE_S for the workers")
    parser.add_argument("--reaper-s", type=float, default=10.0, help="BUDGIE_REAPER_INTERVAL_S for the workers")
    parser.add_argument("--deadline-s", type=float, default=900.0)
    args = parser.parse_args()

    import logging

    from werkzeug.serving import make_server

    from app import create_app
    from budgie.client import Client
    from budgie.localstack import free_port, start_celery_worker, stop_process, wait_until
    from core.settings import child_environment, get_settings
    from tests.speech import synthesize

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
    work = Path(tempfile.mkdtemp(prefix="budgie-faults-"))
    clips = [synthesize(text, work / f"clip{i}.wav") for i, text in enumerate(SENTENCES)]
    redis_server = Redis(work)
    redis_server.start()
    data_dir, prefix = work / "data", "budgie-faults"
    env = child_environment(
        REDIS_URL=redis_server.url,
        BUDGIE_DATA_DIR=str(data_dir),
        BUDGIE_KEY_PREFIX=prefix,
        BUDGIE_STAGE_LEASE_S=str(args.lease_s),
        BUDGIE_REAPER_INTERVAL_S=str(args.reaper_s),
        BUDGIE_STAGE_MAX_KILLS=str(args.kills + 2),  # the bench's kills are not the audio's fault
        BUDGIE_LOG_FORMAT="text",
    )
    settings = get_settings().replace(redis_url=redis_server.url, data_dir=data_dir, key_prefix=prefix, auth=False)
    server = make_server("127.0.0.1", free_port(), create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = Client(f"http://127.0.0.1:{server.server_port}", api_key="", timeout=30)

    cpu = start_celery_worker("prepare,merge", "faults-cpu", env, work / "cpu.log")
    transcribers = [start_celery_worker(f"transcribe.{MODEL}", "faults-asr-0", env, work / "asr-0.log")]
    wait_until(lambda: client.model(MODEL).get("loaded"), transcribers[0], work / "asr-0.log", "the worker", 600)

    errors = Errors()
    started = time.monotonic()
    ids = []
    for i in range(args.jobs):
        created = patiently(lambda i=i: client.submit(clips[i % len(clips)], model=MODEL), errors, f"submit {i}")
        if created:
            ids.append(created["id"])

    kills: list[tuple[float, str]] = []  # (time of the kill, job it interrupted)

    def running_transcription() -> str | None:
        for job_id in ids:
            job = patiently(lambda j=job_id: client.job(j), errors, "poll")
            stage = next((s for s in (job or {}).get("stages", []) if s["stage"] == "transcribe"), {})
            if stage.get("status") == "running":
                return job_id
        return None

    for k in range(args.kills):
        time.sleep(random.uniform(0.5, 3.0))
        victim = None
        while victim is None and time.monotonic() - started < args.deadline_s:
            victim = running_transcription()
        if victim is None:
            break
        os.kill(transcribers[-1].pid, signal.SIGKILL)
        kills.append((time.monotonic(), victim))
        print(f"killed the transcribe worker during {victim}", file=sys.stderr)
        log = work / f"asr-{k + 1}.log"
        transcribers.append(start_celery_worker(f"transcribe.{MODEL}", f"faults-asr-{k + 1}", env, log))
        if k == 0:  # Redis goes away too, once, while the replacement worker starts
            redis_server.stop()
            time.sleep(2.0)
            redis_server.start()
            print("restarted redis", file=sys.stderr)

    finished_at: dict[str, float] = {}
    while len(finished_at) < len(ids) and time.monotonic() - started < args.deadline_s:
        for job_id in ids:
            if job_id in finished_at:
                continue
            job = patiently(lambda j=job_id: client.job(j), errors, "poll")
            if job and job["status"] in ("completed", "failed", "cancelled"):
                finished_at[job_id] = time.monotonic()
                if job["status"] != "completed":
                    errors.add(f"{job_id} {job['status']}: {job.get('error')}")
        time.sleep(0.5)

    completed = [j for j in ids if j in finished_at]
    lost = args.jobs - len(completed)
    recoveries = sorted(finished_at[j] - t for t, j in kills if j in finished_at)
    p95 = recoveries[min(len(recoveries) - 1, int(0.95 * len(recoveries)))] if recoveries else float("nan")
    for proc in [cpu, *transcribers]:
        stop_process(proc, timeout=10)
    server.shutdown()
    redis_server.stop()
    print(
        f"jobs={args.jobs} kills={len(kills)} redis_restarts=1 wall_s={time.monotonic() - started:.1f} "
        f"recoveries_s={[round(r, 1) for r in recoveries]} logs={work}",
        file=sys.stderr,
    )
    print(f"RESULT lost={lost} recovered_p95_s={p95:.1f} errors={errors.count}")
    return 0 if lost == 0 and errors.count == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
