"""The application factory: routers, error handlers, middleware and shared clients."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from app.alerts.router import router as alerts_router
from app.alerts.settings_router import router as alert_settings_router
from app.alerts.watch_lists_router import router as watch_lists_router
from app.audit.router import router as audit_router
from app.auth.callers import AccountReader
from app.auth.router import router as auth_router
from app.core.body_limit import BodyLimitMiddleware
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.dispatch import dispatch_by_prefix
from app.core.docs import install_docs
from app.core.error_handlers import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import Metrics
from app.core.middleware import RequestContextMiddleware
from app.core.rate_limit import WriteAllowance
from app.core.redis import connect_redis
from app.core.routing import install_openapi, operation_id
from app.feed.checks_router import router as feed_checks_router
from app.feed.conflicts_router import router as feed_conflicts_router
from app.feed.router import IMPORTS_PATH
from app.feed.router import router as feed_router
from app.health.router import router as health_router
from app.help_requests.router import router as help_requests_router
from app.households.router import router as households_router
from app.jobs.router import router as jobs_router
from app.notifications.router import router as notifications_router
from app.regions.router import router as regions_router
from app.trainings.router import router as trainings_router
from app.visits.router import router as visits_router
from app.visits.writer import VisitWriter

DESCRIPTION = """
稳岗 (wengang): the backend of village employment-assistance coordinators.

Authenticate with `POST /api/v1/auth/token` (or the **Authorize** button), then call the API
with `Authorization: Bearer <access_token>`. Every error is `application/problem+json` with a
stable `code`. Everything is scoped to your regions: an object outside them answers 404.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.db = Database(settings)
    app.state.accounts = AccountReader(
        app.state.db, lanes=settings.account_read_lanes, batch=settings.account_read_batch
    )
    app.state.visit_writer = VisitWriter(
        app.state.db,
        lanes=settings.visit_write_lanes,
        batch=settings.visit_write_batch,
        review_metres=settings.visit_max_distance_km * 1000,
    )
    app.state.redis = app.state.arq = await connect_redis(settings)
    app.state.write_allowance = WriteAllowance(app.state.redis, settings)
    app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    app.state.metrics.pool.pool = app.state.db.engine.pool
    app.state.metrics.batches.batchers = [
        app.state.accounts.batcher,
        app.state.visit_writer.batcher,
    ]
    # Everything alive now (modules, routes, schemas) lives as long as the process: moving it
    # out of the collector's reach keeps full collections from pausing requests for 100+ ms.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        await app.state.http.aclose()
        await app.state.redis.aclose()
        await app.state.db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="wengang API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Served by install_docs from local files instead of FastAPI's CDN-based pages.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "auth", "description": "Logins, tokens and the calling account"},
            {"name": "regions", "description": "Administrative divisions within your scope"},
            {"name": "households", "description": "The registry: households, members, months"},
            {"name": "visits", "description": "Household visits (入户走访)"},
            {"name": "jobs", "description": "Job openings, pushes in rounds, and matching"},
            {"name": "trainings", "description": "Trainings: enrolment, roll, check-in (培训)"},
            {
                "name": "feed",
                "description": "The monitoring feed: pulls, imports, reconciliation (对账), "
                "data checks",
            },
            {
                "name": "help-requests",
                "description": "Villagers ask for help (求助); deadlines; what waits for staff",
            },
            {
                "name": "alerts",
                "description": "Monthly job-status alerts (月预警): episodes, runs, lifecycle",
            },
            {
                "name": "alert-settings",
                "description": "What counties set for alerts: rule thresholds, the run day, "
                "monitoring income lines (监测收入线) and employment targets (务工目标)",
            },
            {
                "name": "watch-lists",
                "description": "The monthly watch lists (返乡回流, 有意愿外出, 就业不稳定), the "
                "无就业意愿 ledger, and households whose risk may be cleared",
            },
            {"name": "audit", "description": "Who changed or revealed what"},
            {"name": "health", "description": "Liveness, readiness and metrics"},
        ],
    )
    install_openapi(app)
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_docs(app)
    install_error_handlers(app)
    # Inside the request context, so a 413 carries its request id and is logged.
    app.add_middleware(
        BodyLimitMiddleware,
        body_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        anonymous_bytes=settings.max_anonymous_body_bytes,
        upload_bytes_by_path={IMPORTS_PATH: settings.feed_import_max_bytes},
    )
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)

    # One router per domain (`app/<domain>/router.py`).
    for router in (
        auth_router,
        regions_router,
        households_router,
        visits_router,
        jobs_router,
        trainings_router,
        # The feed's routes are split by what they serve; one prefix, one tag.
        feed_router,
        feed_conflicts_router,
        feed_checks_router,
        help_requests_router,
        alerts_router,
        alert_settings_router,
        watch_lists_router,
        notifications_router,
        audit_router,
        health_router,
    ):
        app.include_router(router)
    dispatch_by_prefix(app)
    return app
