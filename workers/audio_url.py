"""Download a job's ``audio_url`` into the stage's scratch directory: http(s) through the one SSRF
guard (``core.netguard``) with a size limit and a timeout, ``s3://`` through the S3 store's client."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests

from core import netguard
from core.settings import get_settings
from core.storage import StorageError, open_storage
from workers.stage import StageError

CODE = "audio_url_failed"


def fetch_audio_url(url: str, path: Path) -> Path:
    """Write the body at ``url`` to ``path``; a refused or failed download is a :class:`StageError`
    whose message names the URL's problem."""
    settings = get_settings()
    max_bytes = int(settings.audio_url_max_mb * 1024 * 1024)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        try:
            open_storage(settings).download_external(parts.netloc, parts.path.lstrip("/"), path, max_bytes)
        except StorageError as exc:
            path.unlink(missing_ok=True)
            raise StageError(f"audio_url: {exc}", CODE) from exc
        return path
    try:
        with netguard.guarded_request(
            "GET", url, allow_private=settings.allow_private_urls, timeout=settings.audio_url_timeout_s
        ) as response:
            problem = netguard.status_error(response)
            if problem:
                raise netguard.UnsafeURL(problem)
            with open(path, "wb") as out:
                for piece in netguard.read_limited(response, max_bytes):
                    out.write(piece)
    except (netguard.UnsafeURL, requests.RequestException) as exc:
        path.unlink(missing_ok=True)
        raise StageError(f"audio_url: {netguard.describe(exc)}", CODE) from exc
    return path
