"""Outbound HTTP that a caller controls the address of (webhooks, ``audio_url``): the SSRF guard.

A URL is refused unless it is http(s) and every address its host resolves to is public: loopback,
link-local (cloud metadata at 169.254.169.254), private, carrier-grade NAT, multicast, reserved and
unspecified ranges are refused unless the deployment allows private targets (tests, private
networks). Redirects are followed by hand, at most ``MAX_REDIRECTS``, and every hop is checked again,
so a public URL cannot bounce the request to an internal one. Bodies are streamed with a byte limit.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import requests

MAX_REDIRECTS = 3
SCHEMES = ("http", "https")


class UnsafeURL(ValueError):
    """The URL may not be fetched; the message says why (meant for the API user)."""


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, what in (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    ):
        if test:
            return what
    return None


def check_url(url: str, allow_private: bool = False) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is http(s) and its host resolves only to allowed addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise UnsafeURL(f"only http and https URLs are allowed, not '{parts.scheme or 'no scheme'}'")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UnsafeURL(f"the host '{parts.hostname}' cannot be resolved") from exc
    if allow_private:
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        reason = _forbidden(address)
        if reason:
            raise UnsafeURL(
                f"the host '{parts.hostname}' resolves to a {reason} address ({address}), which is not allowed"
            )


@contextmanager
def guarded_request(
    method: str,
    url: str,
    *,
    allow_private: bool = False,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> Iterator[requests.Response]:
    """``with guarded_request("GET", url) as response:`` — a streamed response, every hop checked.

    Raises :class:`UnsafeURL` for a refused URL or redirect, ``requests.RequestException`` for network errors.
    """
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, allow_private)
        response = requests.request(
            method, url, headers=dict(headers or {}), data=data, timeout=timeout, allow_redirects=False, stream=True
        )
        if response.is_redirect and "location" in response.headers:
            url = urljoin(url, response.headers["location"])
            response.close()
            if method.upper() not in ("GET", "HEAD"):  # do not replay a POST body somewhere else
                raise UnsafeURL("the server answered with a redirect; webhook URLs must not redirect")
            continue
        try:
            yield response
        finally:
            response.close()
        return
    raise UnsafeURL(f"more than {MAX_REDIRECTS} redirects")


def read_limited(response: requests.Response, max_bytes: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    """Yield the body in pieces, raising :class:`UnsafeURL` once more than ``max_bytes`` arrived."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeURL(f"the body is {int(declared)} bytes, over the {max_bytes}-byte limit")
    received = 0
    for piece in response.iter_content(chunk):
        received += len(piece)
        if received > max_bytes:
            raise UnsafeURL(f"the body is over the {max_bytes}-byte limit")
        yield piece


def describe(exc: Exception) -> str:
    """A one-line reason for a failed fetch, without internals (for job errors and webhook attempts)."""
    if isinstance(exc, UnsafeURL):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return "the request timed out"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed"
    return type(exc).__name__


def status_error(response: requests.Response) -> str | None:
    """``None`` for a 2xx answer, else a short reason naming the status."""
    if 200 <= response.status_code < 300:
        return None
    return f"the server answered HTTP {response.status_code}"
