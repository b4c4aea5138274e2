"""The SSRF guard for caller-chosen URLs, against a real local HTTP server."""

from __future__ import annotations

import http.server
import threading

import pytest

from core.netguard import UnsafeURL, check_url, guarded_request, read_limited


@pytest.fixture(scope="module")
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/hop/"):
                left = int(self.path.split("/")[2])
                self.send_response(302)
                self.send_header("Location", "/ok" if left == 0 else f"/hop/{left - 1}")
                self.end_headers()
                return
            body = b"x" * (10_000 if self.path == "/big" else 2)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", "/ok")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://[::1]/x", "loopback"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.10/x", "private"),
        ("http://0.0.0.0/x", "unspecified"),
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://no-such-host.invalid/x", "cannot be resolved"),
    ],
)
def test_internal_and_odd_targets_are_refused_by_default(url, reason):
    with pytest.raises(UnsafeURL, match=reason):
        check_url(url)


def test_private_targets_are_allowed_only_when_configured(server):
    with pytest.raises(UnsafeURL):
        check_url(server + "/ok")
    with guarded_request("GET", server + "/ok", allow_private=True) as response:
        assert response.status_code == 200 and response.content == b"xx"


def test_redirects_are_followed_and_rechecked_but_bounded(server):
    with guarded_request("GET", server + "/hop/2", allow_private=True) as response:
        assert response.status_code == 200
    with pytest.raises(UnsafeURL, match="redirects"), guarded_request("GET", server + "/hop/9", allow_private=True):
        pass
    with (
        pytest.raises(UnsafeURL, match="must not redirect"),
        guarded_request("POST", server + "/post", allow_private=True, data=b"{}"),
    ):
        pass


def test_bodies_are_read_with_a_limit(server):
    with (
        guarded_request("GET", server + "/big", allow_private=True) as response,
        pytest.raises(UnsafeURL, match="over the 1000-byte limit"),
    ):
        b"".join(read_limited(response, 1000))
