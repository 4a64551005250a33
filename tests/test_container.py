"""What can be checked of the container without a Docker engine."""

from __future__ import annotations

import json
import re
import tomllib

from app.cli import build_parser
from app.core.config import PROJECT_ROOT


def test_image_runs_the_same_serve_command():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    assert cmd, "Dockerfile has no exec-form CMD"
    argv = json.loads(cmd[-1])
    assert argv[:2] == ["wengang", "serve"]
    build_parser().parse_args(argv[1:])  # the arguments are ones `wengang serve` accepts
    assert re.search(r"^USER (?!root)\S+", dockerfile, flags=re.MULTILINE), "image runs as root"
    assert dockerfile.count("FROM ") >= 2, "not a multi-stage build"


def test_console_script_is_wengang():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["wengang"] == "app.cli:main"


def test_compose_services_use_wengang_commands():
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for command in ('"wengang", "migrate"', '"wengang", "worker"'):
        assert command in compose
    for service in ("postgres:", "redis:", "api:", "worker:"):
        assert f"\n  {service}" in compose
