"""The install is the lock everywhere: one uv version, one lock, frozen installs."""

from __future__ import annotations

import re
import tomllib

from app.core.config import PROJECT_ROOT


def _read(name: str) -> str:
    return (PROJECT_ROOT / name).read_text(encoding="utf-8")


def test_one_uv_version_in_makefile_dockerfile_pyproject_and_lock():
    makefile = re.search(r"^UV_VERSION := (\S+)$", _read("Makefile"), re.MULTILINE)
    dockerfile = re.search(r"^ARG UV_VERSION=(\S+)$", _read("Dockerfile"), re.MULTILINE)
    project = tomllib.loads(_read("pyproject.toml"))
    pinned = [d for d in project["dependency-groups"]["dev"] if d.startswith("uv==")]
    lock = tomllib.loads(_read("uv.lock"))
    locked = [p["version"] for p in lock["package"] if p["name"] == "uv"]
    assert makefile and dockerfile
    assert {makefile[1], dockerfile[1], pinned[0].removeprefix("uv=="), *locked} == {makefile[1]}


def test_lock_is_for_the_declared_pythons():
    project = tomllib.loads(_read("pyproject.toml"))["project"]
    lock = tomllib.loads(_read("uv.lock"))
    assert project["requires-python"] == ">=3.11,<3.13"
    assert lock["requires-python"].replace(" ", "") == project["requires-python"]
    # Every locked package has a hash to check the download against.
    for package in lock["package"]:
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        assert all(f["hash"].startswith("sha256:") for f in files), package["name"]


def test_every_install_is_the_locked_one():
    assert "uv sync --locked" in _read("Makefile")
    dockerfile = _read("Dockerfile")
    syncs = re.findall(r"^RUN uv sync (.*)$", dockerfile, re.MULTILINE)
    assert syncs and all("--locked" in s and "--no-dev" in s for s in syncs)
    assert not re.search(r"pip install (?!--no-cache-dir \"uv==)", dockerfile)
    assert "make .venv/.installed" in _read(".ci/run")
