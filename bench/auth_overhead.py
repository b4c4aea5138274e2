"""What auth and rate limiting cost per request: the same authenticated GET with auth off and on.

With auth on, each request reads its key from Redis (no cache, so revocation is immediate) and
flask-limiter counts it in Redis. Both apps run in this process on the Flask test client against a
real Redis (``--redis-url``, default db 12 of the local Redis, keys under a throwaway prefix); runs
alternate so machine load affects both alike.

    python bench/auth_overhead.py --requests 400

Prints one ``RESULT`` line: median milliseconds per request off and on, and the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    import redis

    from app import create_app
    from core.apikeys import ApiKeyStore
    from core.settings import get_settings

    prefix = f"budgie-bench-auth-{uuid.uuid4().hex[:8]}"
    base = get_settings().replace(redis_url=args.redis_url, key_prefix=prefix, rate_limit_per_minute=10**9)
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)
    secret = ApiKeyStore(client, prefix).create("bench", tenant="bench").secret
    apps = {
        "off": create_app(base.replace(auth=False), testing=True).test_client(),
        "on": create_app(base.replace(auth=True), testing=True).test_client(),
    }
    headers = {"Authorization": f"Bearer {secret}"}
    per_request: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for name, app in apps.items():  # warm up
            assert app.get("/v1/usage", headers=headers).status_code == 200, name
        for _ in range(args.rounds):
            for name, app in apps.items():
                started = time.perf_counter()
                for _ in range(args.requests):
                    app.get("/v1/models/parakeet-tiny-en", headers=headers)
                per_request[name].append((time.perf_counter() - started) / args.requests * 1000)
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    off, on = statistics.median(per_request["off"]), statistics.median(per_request["on"])
    print(f"RESULT auth_off_ms={off:.3f} auth_on_ms={on:.3f} overhead_ms={on - off:.3f} requests={args.requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
