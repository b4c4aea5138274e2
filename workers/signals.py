"""Worker start-up: JSON logging, preload the models this worker serves, heartbeat its identity and
run the reaper that recovers jobs from dead workers (:mod:`workers.recovery`), and serve its Prometheus
metrics (stage durations, RTFx, loaded models) on ``BUDGIE_METRICS_PORT``.

A worker consuming ``transcribe.<model>`` loads that model once, before taking any task, and
exits with a clear message if it cannot (for example a GPU model on a machine without CUDA).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from core import logs, metrics
from core.catalog import registry
from core.heartbeat import Heartbeat
from core.keys import Keys
from core.queue import model_from_queue
from core.settings import get_settings
from workers.engines.device import DeviceError
from workers.recovery import Reaper

logger = logging.getLogger(__name__)

_state: dict[str, Any] = {"queues": [], "hostname": "", "heartbeat": None, "sweeper": None, "reaper": None}


@signals.setup_logging.connect
def _setup_logging(**kwargs: Any) -> None:
    """Budgie's structured logs instead of Celery's own handlers."""
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)


@signals.celeryd_init.connect
def _reset_metrics_dir(**kwargs: Any) -> None:
    """A prefork pool's children share PROMETHEUS_MULTIPROC_DIR with this process: start it empty."""
    if get_settings().metrics_dir:
        metrics.reset_multiprocess_dir(get_settings().metrics_dir)


@signals.worker_process_shutdown.connect
def _pool_child_exited(pid: int | None = None, **kwargs: Any) -> None:
    import os

    metrics.process_exited(pid or os.getpid(), get_settings().metrics_dir)


@signals.celeryd_after_setup.connect
def _preload_models(sender: str, instance: Any, **kwargs: Any) -> None:
    """Runs after logging is set up and before the consumer starts taking tasks."""
    from workers.engines.loader import ModelLoadError, get_model

    _state["hostname"] = sender
    _state["queues"] = sorted(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    settings = get_settings()
    wanted = set(settings.models) | {m for q in _state["queues"] if (m := model_from_queue(q))}
    for model_id in sorted(wanted):
        entry = registry().resolve(model_id)
        try:
            get_model(entry, settings.device)
        except (DeviceError, ModelLoadError) as exc:
            logger.critical("cannot serve %s: %s", model_id, exc)
            raise SystemExit(f"budgie worker: cannot serve {model_id}: {exc}") from exc


def _identity() -> dict[str, Any]:
    from workers.engines.loader import loaded_model_ids

    return {
        "hostname": _state["hostname"],
        "queues": _state["queues"],
        "models": loaded_model_ids(),
        "device": get_settings().device,
    }


@signals.worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    settings = get_settings()
    heartbeat = Heartbeat(
        settings.redis_url,
        Keys(settings.key_prefix).batch_worker(_state["hostname"]),
        _identity,
        settings.heartbeat_s,
        settings.registry_ttl_s,
    )
    _state["heartbeat"] = heartbeat
    heartbeat.start()
    from workers.housekeeping import Sweeper

    _state["sweeper"] = Sweeper(settings)
    _state["sweeper"].start()
    reaper = Reaper(settings, sender.app)
    _state["reaper"] = reaper
    reaper.start()

    if settings.metrics_port:
        _serve_metrics(settings.metrics_port, settings.metrics_dir)


def _serve_metrics(port: int, multiprocess_dir: str) -> None:
    """``GET /metrics`` on ``port``: this process's samples, or every pool process's with a multiprocess dir."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=metrics.collector_registry(multiprocess_dir))
    logger.info("serving Prometheus metrics on :%d/metrics", port)


@signals.worker_shutdown.connect
def _stop_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    if _state["reaper"] is not None:
        _state["reaper"].stop()
    if _state["heartbeat"] is not None:
        _state["heartbeat"].stop(unregister=True)
    if _state["sweeper"] is not None:
        _state["sweeper"].stop()
