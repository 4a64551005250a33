"""Routing benchmark, in-process: what a request costs by the position of its route.

    .venv/bin/python bench/dispatch.py [--rounds 15] [--calls 200]

Drives GET requests through whole ASGI apps without a server, an event loop or a socket
(nothing on these paths waits on I/O), so the figures hold the request's own work: the bare
one-route app's `/healthz`; our `/healthz` (registered near the end of our routes); the first
and last registered routes of `bench/floor.py`'s app of 300 routes. Ours and the many-route app
are measured with the route index (`app.core.dispatch`) and with Starlette's full scan. Each
figure is the fastest of `--rounds` interleaved rounds of `--calls` requests (load on the
machine only ever adds time). Target (issue 11): the last route at ≤ 1.1× the first's cost.
"""

from __future__ import annotations

import argparse
import time

import asgi
import floor
import harness  # puts the project on sys.path
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app


def request(app: FastAPI, path: str) -> None:
    status = asgi.drive(app, path)
    assert status == 200, (path, status)


def full_scan(app: FastAPI) -> FastAPI:
    app.router.middleware_stack = app.router.app
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    # As the benchmark servers run: the access log (INFO) off.
    ours = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="development",
        database_url=None,
        redis_url=None,
        log_level="WARNING",
    )
    cases = {
        "bare app, /healthz": (floor.bare(), "/healthz"),
        "ours, /healthz, index": (create_app(ours), "/healthz"),
        "ours, /healthz, full scan": (full_scan(create_app(ours)), "/healthz"),
        "300 routes, first, index": (floor.wide(), floor.FIRST),
        "300 routes, last, index": (floor.wide(), floor.LAST),
        "300 routes, first, full scan": (floor.wide(full_scan=True), floor.FIRST),
        "300 routes, last, full scan": (floor.wide(full_scan=True), floor.LAST),
    }
    for app, path in cases.values():
        request(app, path)  # builds the index, pays first-time costs
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.rounds):
        for name, (app, path) in cases.items():
            started = time.perf_counter()
            for _ in range(args.calls):
                request(app, path)
            best[name] = min(best[name], (time.perf_counter() - started) / args.calls * 1e6)
    import fastapi

    lines = [
        "# Routing benchmark (in-process)",
        "",
        f"- FastAPI {fastapi.__version__}; fastest of {args.rounds} interleaved rounds of "
        f"{args.calls} requests",
        "",
        "| request | µs | ÷ bare app |",
        "|---|---:|---:|",
        *(
            f"| {name} | {us:.1f} | {us / best['bare app, /healthz']:.2f}× |"
            for name, us in best.items()
        ),
        "",
    ]
    for how in ("index", "full scan"):
        ratio = best[f"300 routes, last, {how}"] / best[f"300 routes, first, {how}"]
        lines.append(f"- {how}: the last route costs **{ratio:.2f}×** the first (target ≤ 1.1×)")
    harness.publish("dispatch.md", lines)


if __name__ == "__main__":
    main()
