"""The `wengang` command: serve, worker, migrate, seed, accounts, OpenAPI, and `dev`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.core.config import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from app.demo.seed import DemoSeeded

OPENAPI_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def load_settings(*, needs: tuple[str, ...] = ()) -> Settings:
    """Settings, or a clear message and exit status 2 (production with dev secrets, or a
    command that needs `DATABASE_URL` / `REDIS_URL` started without them)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        messages = "; ".join(str(err.get("msg", "")) for err in exc.errors())
        print(f"wengang: refusing to start: {messages}", file=sys.stderr)
        raise SystemExit(2) from None
    missing = [name for name in needs if not getattr(settings, name.lower())]
    if missing:
        print(
            f"wengang: {' and '.join(missing)} not set: while `wengang dev` runs, paste the"
            " `export` lines it prints; otherwise point them at your servers",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return settings


DATABASE = ("DATABASE_URL",)
SERVICES = ("DATABASE_URL", "REDIS_URL")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = load_settings(needs=SERVICES)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The app decides which peers' X-Forwarded-For to believe (TRUSTED_PROXIES).
        proxy_headers=False,
    )


def cmd_worker(_: argparse.Namespace) -> None:
    load_settings(needs=SERVICES)
    from workers.main import run

    run()


def migrate(database_url: str | None = None, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    command.upgrade(config, revision)


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = load_settings(needs=DATABASE)
    migrate(settings.database_url, args.revision)
    print(f"database migrated to {args.revision}")


async def _with_session(settings: Settings, work: Callable[..., object]) -> object:
    from app.core.db import Database

    database = Database(settings)
    try:
        async with database.sessionmaker.begin() as session:
            return await work(session)  # type: ignore[misc]
    finally:
        await database.dispose()


def cmd_create_user(args: argparse.Namespace) -> None:
    from app.auth.models import Role
    from app.auth.service import create_user
    from app.core.errors import AppError

    settings = load_settings(needs=DATABASE)
    regions = [code for code in (args.region or []) if code]

    async def work(session: object) -> object:
        return await create_user(
            session,  # type: ignore[arg-type]
            settings,
            role=Role(args.role),
            username=args.username,
            password=args.password,
            region_codes=regions,
            display_name=args.name or args.username,
            phone=args.phone,
        )

    try:
        user = asyncio.run(_with_session(settings, work))
    except AppError as exc:
        print(f"wengang: {exc.detail or exc.title}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"created {args.role} {args.username} ({user.id})")  # type: ignore[attr-defined]


def cmd_create_client(args: argparse.Namespace) -> None:
    from app.auth.service import create_client
    from app.core.errors import AppError

    settings = load_settings(needs=DATABASE)

    async def work(session: object) -> object:
        return await create_client(session, settings, name=args.name, region_code=args.region)  # type: ignore[arg-type]

    try:
        client, secret = asyncio.run(_with_session(settings, work))  # type: ignore[misc]
    except AppError as exc:
        print(f"wengang: {exc.detail or exc.title}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"client_id={client.username}\nclient_secret={secret}\n(the secret is shown only now)")


async def _import_regions(settings: Settings, path: Path) -> None:
    from app.core.db import Database
    from app.regions.importer import import_regions

    database = Database(settings)
    try:
        async with database.engine.begin() as connection:
            report = await import_regions(connection, path)
    finally:
        await database.dispose()
    print(
        f"read {report.read} rows: {report.inserted} new, {report.updated} changed, "
        f"{len(report.errors)} rejected"
    )
    for line, reason in report.errors[:50]:
        print(f"  line {line}: {reason}")


def cmd_import_regions(args: argparse.Namespace) -> None:
    asyncio.run(_import_regions(load_settings(needs=DATABASE), Path(args.file)))


async def seed_demo(
    settings: Settings, *, households: int | None = None, seed: int | None = None
) -> DemoSeeded:
    """Regions, accounts, (into an empty registry only) the synthetic population, and the
    demo jobs and trainings that are missing."""
    from app.core.db import Database
    from app.demo.catalogue import seed_demo_catalogue
    from app.demo.population import DEFAULT_HOUSEHOLDS, DEFAULT_SEED
    from app.demo.seed import (
        DemoSeeded,
        seed_accounts,
        seed_alert_settings,
        seed_demo_population,
        seed_regions,
    )

    database = Database(settings)
    try:
        async with database.engine.begin() as connection:
            await seed_regions(connection)
        async with database.sessionmaker.begin() as session:
            accounts = list(await seed_accounts(session, settings))
        async with database.engine.begin() as connection:
            population = await seed_demo_population(
                connection,
                settings,
                households=DEFAULT_HOUSEHOLDS if households is None else households,
                seed=DEFAULT_SEED if seed is None else seed,
            )
        async with database.engine.begin() as connection:
            jobs, trainings = await seed_demo_catalogue(connection)
        async with database.engine.begin() as connection:
            alert_settings = await seed_alert_settings(connection)
        return DemoSeeded(accounts, population, jobs, trainings, alert_settings)
    finally:
        await database.dispose()


def cmd_seed_demo(args: argparse.Namespace) -> None:
    settings = load_settings(needs=DATABASE)
    if settings.app_env == "production":
        print("wengang: seed-demo refuses to run with APP_ENV=production", file=sys.stderr)
        raise SystemExit(2)
    if args.households is not None and args.households < 0:
        print("wengang: --households must not be negative", file=sys.stderr)
        raise SystemExit(2)
    seeded = asyncio.run(seed_demo(settings, households=args.households, seed=args.seed))
    print(f"demo county seeded ({len(seeded.accounts)} new accounts)")
    report = seeded.population
    if report is None:
        print("population: the registry already has households, nothing added")
    else:
        print(
            f"population: {report.households:,} households, {report.members:,} members, "
            f"{report.employment:,} employment rows, {report.intents:,} intents"
        )
    print(f"catalogue: {seeded.jobs} new demo jobs, {seeded.trainings} new demo trainings")
    print(f"alert settings: {seeded.alert_settings} new monitoring lines and targets")


def openapi_document() -> str:
    from app.main import create_app

    schema = create_app(
        Settings(app_env="development", database_url=None, redis_url=None)
    ).openapi()
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def cmd_openapi(args: argparse.Namespace) -> None:
    document = openapi_document()
    target = Path(args.output)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != document:
            print(f"{target} is stale: run `wengang openapi` and commit it", file=sys.stderr)
            raise SystemExit(1)
        print(f"{target} is up to date")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document, encoding="utf-8")
    print(f"wrote {target}")


def cmd_feed_simulator(args: argparse.Namespace) -> None:
    from app.feed.simulator import Faults, FeedSimulator, serve
    from app.feed.synthetic import SyntheticFeed

    # Only FEED_TOKEN is read: a stand-in feed needs none of the service's secrets.
    token = args.token or Settings(app_env="development").feed_token
    try:
        feed = SyntheticFeed(
            args.population,
            args.seed,
            [code for code in (args.village or []) if code],
            period=args.period,
            epoch=args.epoch,
            bad_every=args.bad_rows_every,
        )
    except ValueError as exc:
        print(f"wengang: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    faults = Faults(
        rate_limit_every=args.rate_limit_every,
        retry_after=args.retry_after,
        error_rate=args.error_rate,
        timeout_every=args.timeout_every,
        hang_seconds=args.hang_seconds,
        page_delay=args.page_delay,
        token_expires_after=args.token_expires_after,
    )
    simulator = FeedSimulator(feed, token=token, faults=faults)
    print(
        f"feed simulator on http://{args.host}:{args.port}: {feed.population:,} members in"
        f" {len(feed.villages)} villages, seed {feed.seed}, period {feed.period},"
        f" epoch {feed.epoch} (FEED_URL=http://{args.host}:{args.port})",
        flush=True,
    )
    serve(simulator, args.host, args.port)


def cmd_dev(args: argparse.Namespace) -> None:
    from app.devserver import DevOptions, run_dev

    # The development command says development itself; an explicit APP_ENV=production stops it.
    os.environ.setdefault("APP_ENV", "development")
    if load_settings().app_env == "production":
        print("wengang: dev refuses to run with APP_ENV=production", file=sys.stderr)
        raise SystemExit(2)
    options = DevOptions(
        host=args.host,
        port=args.port,
        with_worker=not args.no_worker,
        fake_wechat=args.fake_wechat,
        feed_simulator=args.feed_simulator,
    )
    raise SystemExit(run_dev(options))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wengang", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run everything on embedded defaults with demo data")
    dev.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 lets a phone on the same network reach it",
    )
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--no-worker", action="store_true", help="do not start the arq worker")
    dev.add_argument(
        "--fake-wechat",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer the mini-program's WeChat logins with a local fake (default); with"
        " --no-fake-wechat, WECHAT_API_BASE and the app's credentials are used",
    )
    dev.add_argument(
        "--feed-simulator",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pull from and push to a local simulated monitoring feed for the demo county"
        " (default); with --no-feed-simulator, FEED_URL and FEED_TOKEN are used",
    )
    dev.set_defaults(handler=cmd_dev)

    serve = commands.add_parser("serve", help="run the API")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server binds all interfaces
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("worker", help="run the arq worker").set_defaults(handler=cmd_worker)

    migrate_cmd = commands.add_parser("migrate", help="apply database migrations")
    migrate_cmd.add_argument("--revision", default="head")
    migrate_cmd.set_defaults(handler=cmd_migrate)

    user = commands.add_parser("create-user", help="create a person's account")
    user.add_argument("--username", required=True)
    user.add_argument("--password", required=True)
    user.add_argument(
        "--role", required=True, choices=["villager", "coordinator", "manager", "admin"]
    )
    user.add_argument(
        "--region",
        action="append",
        help="a manager's region, or a coordinator's village (repeat for several villages)",
    )
    user.add_argument("--name", help="display name")
    user.add_argument("--phone", help="phone for WeChat phone binding")
    user.set_defaults(handler=cmd_create_user)

    client = commands.add_parser("create-client", help="create a county API client")
    client.add_argument("--name", required=True)
    client.add_argument("--region", required=True)
    client.set_defaults(handler=cmd_create_client)

    regions = commands.add_parser("import-regions", help="import an official division code csv")
    regions.add_argument("file")
    regions.set_defaults(handler=cmd_import_regions)

    seed = commands.add_parser("seed-demo", help="seed the demo county")
    seed.add_argument(
        "--households",
        type=int,
        help="synthetic households, about four people each, default 600; seeded only into a"
        " registry without households",
    )
    seed.add_argument("--seed", type=int, help="same seed, same population (default fixed)")
    seed.set_defaults(handler=cmd_seed_demo)

    add_feed_simulator_parser(commands)

    openapi = commands.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--output", default=str(OPENAPI_PATH))
    openapi.add_argument("--check", action="store_true", help="fail if the file is stale")
    openapi.set_defaults(handler=cmd_openapi)
    return parser


def add_feed_simulator_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.feed.synthetic import DEFAULT_SEED

    sim = commands.add_parser(
        "feed-simulator",
        help="serve a synthetic monitoring feed (FEED.md) for development, tests and benchmarks",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8001)
    sim.add_argument("--population", type=int, default=2_000, help="members (default 2000)")
    sim.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same records")
    sim.add_argument(
        "--village",
        action="append",
        help="a village code the households live in (repeat); default the demo county's",
    )
    sim.add_argument("--period", help="the month employment is stated for (default this month)")
    sim.add_argument(
        "--epoch",
        type=int,
        default=0,
        help="nights of changes after the first full load: each changes one member in 20",
    )
    sim.add_argument("--token", help="the bearer token it accepts (default FEED_TOKEN)")
    faults = sim.add_argument_group("failures (0 turns each off)")
    faults.add_argument("--rate-limit-every", type=int, default=0, metavar="N",
                        help="answer every Nth request 429")  # fmt: skip
    faults.add_argument("--retry-after", default="1",
                        help="the 429's Retry-After: seconds or an HTTP date")  # fmt: skip
    faults.add_argument("--error-rate", type=float, default=0.0, metavar="SHARE",
                        help="answer this share of requests 503")  # fmt: skip
    faults.add_argument("--timeout-every", type=int, default=0, metavar="N",
                        help="hang every Nth request for --hang-seconds")  # fmt: skip
    faults.add_argument("--hang-seconds", type=float, default=30.0)
    faults.add_argument("--page-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before every page")  # fmt: skip
    faults.add_argument("--bad-rows-every", type=int, default=0, metavar="N",
                        help="spoil every Nth record (missing fields, wrong check digit,"
                        " shared or float-mangled ID number)")  # fmt: skip
    faults.add_argument("--token-expires-after", type=int, default=0, metavar="N",
                        help="refuse the token (401) after N requests")  # fmt: skip
    sim.set_defaults(handler=cmd_feed_simulator)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
