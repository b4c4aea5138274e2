"""gunicorn settings for the API (read automatically from the working directory, or ``gunicorn -c``).

Several worker processes share one set of Prometheus numbers through prometheus_client's multiprocess
mode: each process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape of
``/metrics``, whichever process answers it, sums them. The directory comes from the settings (a fresh
temporary one when unset); it is emptied when the master starts, because files of an earlier run would
be summed in. It is exported before any worker is forked, so prometheus_client picks the file-backed
values at import in each worker. A worker that exits is marked dead so its live gauges drop out.
"""

from __future__ import annotations

import os
import tempfile

from core.settings import get_settings

_settings = get_settings()
metrics_dir = _settings.metrics_dir or tempfile.mkdtemp(prefix="budgie-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
get_settings.cache_clear()  # the workers' settings see the directory

# defaults; the command line (-b, -w, --threads) overrides them
bind = "0.0.0.0:8000"
workers = 2
worker_class = "gthread"
threads = 32
# gunicorn answers its own limits with HTML; raise them to its maxima (1 MB line, 64 KB field) and let
# app.request_limits answer JSON 414/431 at the limits clients are told about
limit_request_line = 0
limit_request_field_size = 65536
control_socket_disable = True  # several servers may share a host (tests, the demo, the streaming worker)


def on_starting(server: object) -> None:
    from core.metrics import reset_multiprocess_dir

    reset_multiprocess_dir(metrics_dir)


def child_exit(server: object, worker: object) -> None:
    from core.metrics import process_exited

    process_exited(worker.pid, metrics_dir)  # type: ignore[attr-defined]
