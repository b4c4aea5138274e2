"""Memory on a large upload: the API (gunicorn, as deployed) and a PREPARE worker handling one 1 GB file.

A silent 48 kHz stereo 16-bit WAV of ``--size-mb`` is generated as a sparse file (no disk until it is
copied), posted as a streamed multipart body, stored (S3: moto's standalone server, multipart; or the
local directory), and converted by a real Celery worker consuming only ``prepare``. Each process's peak
RSS is reset (``/proc/<pid>/clear_refs``) just before the upload and read (``VmHWM``) once PREPARE has
completed; growth = peak - RSS before. The job is then deleted. Redis is a server of the bench's own.

    python bench/large_upload.py                      # 1024 MB on the S3 backend
    python bench/large_upload.py --size-mb 256 --backend local

Ends with ``RESULT api_rss_growth_mb=.. worker_rss_growth_mb=.. size_mb=.. backend=.. upload_s=.. prepare_s=..``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgie.localstack import free_port, start_celery_worker, stop_process, wait_until  # noqa: E402

MODEL = "parakeet-tiny-en"  # no worker consumes its transcribe queue here: the job waits after PREPARE
CREDENTIALS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def sparse_wav(path: Path, size_mb: int, rate: int = 48000, channels: int = 2) -> float:
    """A silent PCM WAV of about ``size_mb`` MB that takes no disk until copied; returns its duration."""
    block = channels * 2
    data = (size_mb * 1024 * 1024 - 44) // block * block
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
    header += (
        struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16) + b"data" + struct.pack("<I", data)
    )
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(44 + data)
    return data / (rate * block)


class MultipartBody:
    """A multipart/form-data body read piece by piece from the file (requests streams objects with a length)."""

    def __init__(self, path: Path, fields: dict[str, str]):
        self.boundary = f"budgie-bench-{os.getpid()}"
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        )
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.parts = [io.BytesIO(head.encode()), open(path, "rb"), io.BytesIO(tail)]  # noqa: SIM115
        self.size = len(head.encode()) + path.stat().st_size + len(tail)

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        out = b""
        while self.parts and (n < 0 or len(out) < n):
            piece = self.parts[0].read(-1 if n < 0 else n - len(out))
            if not piece:
                self.parts.pop(0).close()
                continue
            out += piece
        return out


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in text]


def start_logged(command: list[str], log: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, **kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--backend", choices=("s3", "local"), default="s3")
    parser.add_argument("--dir", type=Path, default=None, help="working directory (default: a new temp dir)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="budgie-large-", dir=args.dir))
    procs: list[subprocess.Popen] = []
    try:
        audio = work / "large.wav"
        seconds = sparse_wav(audio, args.size_mb)
        redis_port = free_port()
        procs.append(
            start_logged(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                work / "redis.log",
            )
        )
        env = {
            **os.environ,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "BUDGIE_KEY_PREFIX": "budgie-bench",
            "BUDGIE_MAX_UPLOAD_MB": str(args.size_mb + 64),
            "BUDGIE_MAX_DURATION_S": str(seconds + 3600),
            "BUDGIE_LOG_FORMAT": "text",
            "BUDGIE_SWEEP_INTERVAL_S": "0",
            "BUDGIE_AUTH": "off",  # a private loopback stack
        }
        if args.backend == "s3":
            import boto3

            s3_port = free_port()
            procs.append(
                start_logged(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], work / "moto.log"
                )
            )
            endpoint = f"http://127.0.0.1:{s3_port}"
            wait_until(lambda: _answers(endpoint), procs[-1], work / "moto.log", "moto_server", timeout=60)
            boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            ).create_bucket(Bucket="bench")
            env.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint, BUDGIE_STORAGE_URL="s3://bench/budgie")
        else:
            env["BUDGIE_STORAGE_URL"] = f"file://{work / 'store'}"

        worker_env = {**env, "BUDGIE_DATA_DIR": str(work / "worker")}
        worker = start_celery_worker("prepare", "bench-prepare", worker_env, work / "worker.log")
        procs.append(worker)
        api_port = free_port()
        api_env = {**env, "BUDGIE_DATA_DIR": str(work / "api")}
        command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "4", "-w", "1"]
        api = start_logged([*command, "-b", f"127.0.0.1:{api_port}", "app:create_app()"], work / "api.log", api_env)
        procs.append(api)
        base = f"http://127.0.0.1:{api_port}"
        wait_until(lambda: _answers(f"{base}/health"), api, work / "api.log", "the API", timeout=120)
        import redis

        registry = redis.Redis.from_url(env["REDIS_URL"])
        wait_until(
            lambda: any(registry.scan_iter("budgie-bench:batch:worker:*")),  # its heartbeat: consuming
            worker,
            work / "worker.log",
            "the prepare worker",
            timeout=120,
        )
        (api_pid,) = children(api.pid)

        def upload_and_prepare(path: Path) -> tuple[float, float]:
            started = time.time()
            body = MultipartBody(path, {"model": MODEL})
            resp = requests.post(
                f"{base}/v1/audio/transcriptions",
                data=body,
                headers={"Content-Type": f"multipart/form-data; boundary={body.boundary}"},
                timeout=1800,
            )
            resp.raise_for_status()
            upload_s = time.time() - started
            job_id = resp.json()["id"]

            def prepared() -> bool:
                job = requests.get(f"{base}/v1/audio/transcriptions/{job_id}", timeout=10).json()
                if job["status"] == "failed":
                    raise RuntimeError(f"prepare failed: {job['error']}")
                return bool(job["stages"][0]["status"] == "completed")

            wait_until(prepared, worker, work / "worker.log", f"PREPARE of {path.name}", timeout=3600)
            requests.delete(f"{base}/v1/audio/transcriptions/{job_id}", timeout=30)
            return upload_s, time.time() - started - upload_s

        # a small job first: one-time costs (imports of boto3 and PyAV, connection pools) are not the upload's
        warm = work / "warm.wav"
        sparse_wav(warm, 2)
        upload_and_prepare(warm)
        baseline = {pid: status_kb(pid, "VmRSS") for pid in (api_pid, worker.pid)}
        for pid in baseline:
            reset_peak(pid)
        upload_s, prepare_s = upload_and_prepare(audio)
        growth = {pid: (status_kb(pid, "VmHWM") - baseline[pid]) / 1024 for pid in baseline}
        print(
            f"api peak growth {growth[api_pid]:.1f} MB, worker peak growth {growth[worker.pid]:.1f} MB "
            f"({args.size_mb} MB, {seconds / 3600:.2f} h of audio; upload {upload_s:.1f}s, prepare {prepare_s:.1f}s)"
        )
        print(
            f"RESULT api_rss_growth_mb={growth[api_pid]:.1f} worker_rss_growth_mb={growth[worker.pid]:.1f} "
            f"size_mb={args.size_mb} backend={args.backend} upload_s={upload_s:.1f} prepare_s={prepare_s:.1f}"
        )
    finally:
        for proc in reversed(procs):
            stop_process(proc, timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main()
