"""The floor the request benchmarks are measured against, served like the application.

    .venv/bin/python bench/floor.py bare --port 8001
    .venv/bin/python bench/floor.py wide --port 8002 [--full-scan]

`bare` is a FastAPI app with one route, `GET /healthz` answering a constant: the cheapest
request this FastAPI, this uvicorn and this machine can serve, and so the honest baseline for
ours. `wide` adds 100 routers of three routes each (`/api/v1/d000/a` … `/api/v1/d099/c`, all
answering the same constant) dispatched by `app.core.dispatch` as the application is
(`--full-scan` leaves Starlette's route-by-route dispatch in place, for comparison): a request
to its last registered route against one to its first measures what the number of routes costs.
Our own first and last routes do different work, so they cannot show it.

Both run under one uvicorn worker with the options `wengang serve` gives it (`app/cli.py`).
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import APIRouter, FastAPI

ROUTERS = 100
FIRST, LAST = "/api/v1/d000/a", f"/api/v1/d{ROUTERS - 1:03}/c"


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def bare() -> FastAPI:
    app = FastAPI()
    app.add_api_route("/healthz", healthz)
    return app


def wide(full_scan: bool = False) -> FastAPI:
    app = bare()
    for number in range(ROUTERS):
        router = APIRouter(prefix=f"/api/v1/d{number:03}")
        router.add_api_route("/a", healthz)
        router.add_api_route("/b/{item_id}", healthz)
        router.add_api_route("/c", healthz)
        app.include_router(router)
    if not full_scan:
        # The code benchmarked (PYTHONPATH, else the project installed in the venv).
        from app.core.dispatch import dispatch_by_prefix

        dispatch_by_prefix(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=["bare", "wide"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--full-scan", action="store_true", help="wide: no route index")
    args = parser.parse_args()
    app = bare() if args.app == "bare" else wide(args.full_scan)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
