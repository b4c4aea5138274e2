"""Every Prometheus metric Budgie exposes, defined once, and how each process serves them.

Two kinds of numbers, two sources:

- **Events** (requests, stage runs, streaming chunks) are counted in the process where they happen and
  served by that process: the API's ``/metrics`` (all gunicorn workers, through prometheus_client's
  multiprocess mode), each Celery worker's own ``/metrics`` port (``BUDGIE_METRICS_PORT``) and each
  streaming worker's ``/metrics``. Prometheus scrapes every one and sums across instances.
- **State** that lives in Redis (queue depth per Celery queue, jobs by state) is read at scrape time by
  :class:`RedisStateCollector`, served by the API. Nothing is pushed or cached, so it is never stale.

``docs/operations.md`` lists the metrics and explains the split.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.jobstore import ACTIVE, TERMINAL, JobStore

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RTFX = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
CHUNK_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)

# -- API (one series per route template, never per raw path) -------------------------------------
HTTP_REQUESTS = Counter(
    "budgie_http_requests_total",
    "HTTP requests by route template and status; a WebSocket upgrade counts as status 'websocket'",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "budgie_http_request_duration_seconds",
    "HTTP request latency by route template (WebSocket sessions excluded)",
    ["method", "route"],
    buckets=SECONDS,
)
JOBS_SUBMITTED = Counter("budgie_jobs_submitted_total", "Batch jobs accepted", ["model"])

# -- Celery workers (served on the worker's own port) -------------------------------------------
STAGE_RUNS = Counter(
    "budgie_stage_runs_total",
    "Pipeline stage runs by outcome (completed, failed, cancelled)",
    ["model", "stage", "outcome"],
)
STAGE_SECONDS = Histogram(
    "budgie_stage_duration_seconds", "Wall time of completed stage runs", ["model", "stage"], buckets=SECONDS
)
STAGE_RTFX = Histogram(
    "budgie_stage_rtfx", "Audio seconds per wall second of completed stage runs", ["model", "stage"], buckets=RTFX
)
JOB_SECONDS = Histogram(
    "budgie_job_duration_seconds",
    "Completed jobs: submission to completion, queueing included",
    ["model"],
    buckets=SECONDS,
)
JOB_RTFX = Histogram(
    "budgie_job_rtfx", "Completed jobs: audio seconds per second from submission to completion", ["model"], buckets=RTFX
)
MODEL_LOADED = Gauge(
    "budgie_model_loaded", "1 for each model this process holds in memory", ["model"], multiprocess_mode="livemax"
)

# -- streaming workers (served on the worker's /metrics) ----------------------------------------
STREAM_SESSIONS = Gauge("budgie_stream_sessions", "Open streaming sessions", ["model"], multiprocess_mode="livesum")
STREAM_SESSIONS_STARTED = Counter("budgie_stream_sessions_started_total", "Streaming sessions accepted", ["model"])
STREAM_SESSIONS_REJECTED = Counter(
    "budgie_stream_sessions_rejected_total", "Streaming sessions refused (bad parameters, no capacity)", ["reason"]
)
STREAM_CHUNK_SECONDS = Histogram(
    "budgie_stream_chunk_latency_seconds",
    "Audio chunk received -> its transcript message sent",
    ["model"],
    buckets=CHUNK_SECONDS,
)
STREAM_STEP_SECONDS = Histogram(
    "budgie_stream_step_duration_seconds", "One batched model step", ["model"], buckets=CHUNK_SECONDS
)
STREAM_LAG = Gauge(
    "budgie_stream_lag_seconds",
    "How long the oldest chunk waiting to be decoded has waited (0 = keeping up)",
    ["model"],
    multiprocess_mode="livemax",
)
STREAM_AUDIO = Counter("budgie_stream_audio_seconds_total", "Audio seconds decoded by streaming sessions", ["model"])

# -- read from Redis at scrape time (RedisStateCollector) ---------------------------------------
QUEUE_DEPTH = "budgie_queue_depth"
JOBS_ACTIVE = "budgie_jobs_active"
JOBS_FINISHED = "budgie_jobs_finished"  # a counter: exposed with the _total suffix

# kombu's Redis transport keeps prioritised messages in sibling lists (``queue\x06\x16<step>``)
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)


class RedisStateCollector(Collector):
    """Queue depth (LLEN on the broker) and jobs by state (the job store's counts), read per scrape."""

    def __init__(self, broker: redis.Redis, jobs: JobStore, queues: Iterable[str]):
        self.broker = broker
        self.jobs = jobs
        self.queues = sorted(set(queues))

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        depth = GaugeMetricFamily(
            QUEUE_DEPTH, "Tasks waiting in each Celery queue (LLEN on the broker)", labels=["queue"]
        )
        active = GaugeMetricFamily(JOBS_ACTIVE, "Jobs pending or running now", labels=["state"])
        finished = CounterMetricFamily(JOBS_FINISHED, "Jobs that reached a terminal state", labels=["state"])
        try:
            pipe = self.broker.pipeline(transaction=False)
            for queue in self.queues:
                pipe.llen(queue)
                for step in _KOMBU_PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_KOMBU_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
            counts = self.jobs.state_counts()
        except redis.RedisError:
            return  # Redis down: no state series (/ready says why); the process metrics still render
        per_queue = 1 + len(_KOMBU_PRIORITY_STEPS)
        for i, queue in enumerate(self.queues):
            depth.add_metric([queue], sum(lengths[i * per_queue : (i + 1) * per_queue]))
        for state in ACTIVE:
            active.add_metric([state], max(0, counts.get(state, 0)))
        for state in sorted(TERMINAL):
            finished.add_metric([state], counts.get(state, 0))
        yield from (depth, active, finished)


class _ProcessMetrics(Collector):
    """This process's own metrics (used when the process is not one of several gunicorn workers)."""

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        yield from REGISTRY.collect()


def collector_registry(multiprocess_dir: str = "", *extra: Collector) -> CollectorRegistry:
    """This process's metrics (or, with ``multiprocess_dir``, those of every process writing there) plus
    ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_ProcessMetrics())
    for collector in extra:
        registry.register(collector)
    return registry


def render(multiprocess_dir: str = "", *extra: Collector) -> tuple[bytes, str]:
    """The Prometheus text exposition of :func:`collector_registry` and its content type."""
    return generate_latest(collector_registry(multiprocess_dir, *extra)), CONTENT_TYPE_LATEST


def reset_multiprocess_dir(path: str) -> None:
    """Empty (or create) the multiprocess directory at start-up: files of a previous run would be summed in."""
    directory = Path(path)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def process_exited(pid: int, multiprocess_dir: str) -> None:
    """Drop a dead worker process's live gauges (its counters and histograms stay in the totals)."""
    if multiprocess_dir:
        multiprocess.mark_process_dead(pid, multiprocess_dir)
