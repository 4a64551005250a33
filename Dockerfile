# The wengang API and worker image. One image, three roles (see docker-compose.yml):
#   wengang serve (default), wengang worker, wengang migrate.

# --- builder: the dependencies from uv.lock, then the package, in /opt/venv -----------------------
FROM python:3.11-slim AS builder

# uv from its PyPI wheel, the version that wrote uv.lock (UV_VERSION in the Makefile).
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the lock changes. --locked
# installs exactly the locked versions, checked against their hashes, and fails if uv.lock no
# longer matches pyproject.toml; --no-dev leaves out the test and lint tools.
COPY pyproject.toml uv.lock /src/
RUN uv sync --locked --no-dev --no-install-project --no-cache
COPY . /src
RUN uv sync --locked --no-dev --no-editable --no-cache

# --- runtime -------------------------------------------------------------------------------------
FROM python:3.11-slim

# The code runs from /app, not from site-packages: `wengang migrate` finds alembic.ini and
# migrations/ next to the `app` package (PROJECT_ROOT in app/core/config.py is the parent of
# app/), so /app must hold app/, workers/, alembic.ini and migrations/ side by side.
# PYTHONPATH=/app puts that tree ahead of the copy installed into the venv.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production

RUN useradd --create-home --uid 10001 --user-group wengang

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# Compile once at build time; the app user cannot write to /app.
RUN python -m compileall -q /app/app /app/workers /app/migrations

USER wengang
EXPOSE 8000

# Liveness only (/healthz); readiness of PostgreSQL and Redis is /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["wengang", "serve", "--host", "0.0.0.0", "--port", "8000"]
