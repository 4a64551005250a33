"""Only the web layer imports FastAPI: routers, `app.main` and a few core modules facing it.

Services, writers, models, schemas, policy, tasks and the worker are plain Python that a job,
a command or a test uses without a web framework. The modules are found on disk, so a new
domain's modules are held to the rule without a line here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.core.config import PROJECT_ROOT

# The modules, besides every `router.py`, whose job is to face FastAPI or Starlette.
FASTAPI_FACING = frozenset(
    {
        "app.main",
        "app.alerts.settings_router",  # the alert settings' routes, beside the alerts' router.py
        "app.alerts.watch_lists_router",  # the watch lists' routes
        "app.core.auth",  # the caller dependency
        "app.core.body_limit",  # a middleware
        "app.core.deps",  # the session and page dependencies
        "app.core.dispatch",
        "app.core.docs",
        "app.core.error_handlers",
        "app.core.middleware",
        "app.core.routing",
        "app.feed.conflicts_router",  # reconciliation's routes, part of the feed's router
        "app.fakes.wechat",  # a stand-in WeChat server, itself a FastAPI app
        "app.feed.checks_router",  # the data checks' routes, beside the feed's router.py
        "app.feed.simulator",  # the stand-in monitoring feed, a Starlette app
    }
)

_BLOCKED_IMPORT = """
import importlib, sys, traceback
# A module set to None cannot be imported, nor can anything under it.
sys.modules["fastapi"] = None
sys.modules["starlette"] = None
failed = 0
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError:
        failed += 1
        print(f"{name} imports FastAPI or Starlette:", file=sys.stderr)
        traceback.print_exc(limit=-3)
sys.exit(1 if failed else 0)
"""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _plain_modules() -> list[str]:
    files = sorted((PROJECT_ROOT / "app").rglob("*.py")) + sorted(
        (PROJECT_ROOT / "workers").rglob("*.py")
    )
    names = [_module_name(path) for path in files if path.name != "router.py"]
    return [name for name in names if name not in FASTAPI_FACING]


def test_the_fastapi_facing_modules_exist() -> None:
    for name in FASTAPI_FACING:
        path = PROJECT_ROOT.joinpath(*name.split(".")).with_suffix(".py")
        assert path.is_file(), f"{name} is listed as FastAPI-facing but does not exist"


def test_only_the_web_layer_imports_fastapi() -> None:
    modules = _plain_modules()
    assert {"app.households.service", "app.jobs.tasks", "workers.main"} <= set(modules)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT, *modules],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
