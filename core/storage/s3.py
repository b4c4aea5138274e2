"""The S3-compatible store (AWS S3, MinIO, Ceph RGW) through boto3: ``s3://bucket/prefix/jobs/<id>/<name>``.

Endpoint, region and credentials come from the settings (the standard ``AWS_*`` variables); when
they are empty boto3's own chain applies (instance roles, ``~/.aws``). Transfers go through boto3's
managed transfer (``upload_file``/``download_file``) with a multipart threshold and part size of
``BUDGIE_S3_PART_MB``, so memory stays at a few parts whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.settings import Settings
from core.storage import ObjectMissing, StorageError

MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3Storage:
    def __init__(self, bucket: str, prefix: str, settings: Settings):
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        self.client = make_client(settings)
        part = max(5, settings.s3_part_mb) * 1024 * 1024  # S3's minimum part is 5 MB
        self.transfer = TransferConfig(
            multipart_threshold=part, multipart_chunksize=part, max_concurrency=4, use_threads=True
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {_reason(exc)}") from exc
        Path(path).unlink(missing_ok=True)

    def get_file(self, key: str, path: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(key), str(path), Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            if _missing(exc):
                raise ObjectMissing(key) from exc
            raise StorageError(f"could not read {key}: {_reason(exc)}") from exc

    def local_path(self, key: str) -> Path | None:
        return None

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {_reason(exc)}") from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            return body.read()  # type: ignore[no-any-return]
        except (BotoCoreError, ClientError) as exc:
            if _missing(exc):
                raise ObjectMissing(key) from exc
            raise StorageError(f"could not read {key}: {_reason(exc)}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise StorageError(f"could not check {key}: {_reason(exc)}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {key}: {_reason(exc)}") from exc

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            yield from page.get("Contents", [])

    def delete_prefix(self, prefix: str) -> int:
        try:
            keys = [{"Key": o["Key"]} for o in self._objects(prefix)]
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                batch = {"Objects": keys[start : start + 1000], "Quiet": True}
                self.client.delete_objects(Bucket=self.bucket, Delete=batch)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {prefix}: {_reason(exc)}") from exc
        return len(keys)

    def job_ids(self) -> Iterator[tuple[str, float]]:
        newest: dict[str, float] = {}
        start = len(self._key("jobs/"))
        for obj in self._objects("jobs/"):
            job_id = obj["Key"][start:].split("/", 1)[0]
            if job_id:
                newest[job_id] = max(newest.get(job_id, 0.0), obj["LastModified"].timestamp())
        yield from newest.items()

    def download_external(self, bucket: str, key: str, path: Path, max_bytes: int) -> None:
        if bucket == self.bucket and key.startswith(self._key("jobs/")):
            raise StorageError("the URL points at Budgie's own job files, which audio_url may not read")
        try:
            size = self.client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except (BotoCoreError, ClientError) as exc:
            if _missing(exc):
                raise StorageError(f"the object s3://{bucket}/{key} does not exist") from exc
            raise StorageError(f"the object s3://{bucket}/{key} cannot be read: {_reason(exc)}") from exc
        if size > max_bytes:
            raise StorageError(f"the object is {size} bytes, over the {max_bytes}-byte limit")
        try:
            self.client.download_file(bucket, key, str(path), Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"the object s3://{bucket}/{key} cannot be read: {_reason(exc)}") from exc


def make_client(settings: Settings) -> Any:
    """An S3 client from the settings; path-style addressing when an endpoint is set (MinIO and most
    self-hosted stores need it)."""
    secret = settings.aws_secret_access_key.get_secret_value()
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.aws_endpoint_url or None,
        region_name=settings.aws_default_region or None,
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=secret or None,
        config=Config(
            s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def _missing(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code")) in MISSING_CODES
    return False


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    return "the object store could not be reached"
