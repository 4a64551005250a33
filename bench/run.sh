#!/usr/bin/env bash
# The auth benchmark: GET /api/v1/me (JWT check plus one database read) against GET /healthz,
# one uvicorn worker, wrk in a second process, runs interleaved in pairs. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
# A server we may create and drop a database on; the URL must not carry a query string.
ADMIN_URL=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1/postgres}
DB_NAME=${BENCH_DB_NAME:-wengang_bench}
# Login throttling keeps its counters here; nothing is flushed.
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
PAIRS=${BENCH_PAIRS:-5}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-5s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
RESULTS=bench/results
RAW=$RESULTS/raw
# BENCH_REF=<commit> benchmarks that commit, exported to a temporary directory, instead of the
# working tree (handy while the tree has edits in progress). The venv is shared: same deps.
REF=${BENCH_REF:-}

install_if_missing() { # command, Debian package
	command -v "$1" >/dev/null && return
	echo "bench: installing $2 with apt-get"
	apt-get install -y -qq "$2" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
}

free_port() {
	"$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wrk_run() { # duration, path, extra wrk arguments...
	# In the background and waited for, so that Ctrl-C or a TERM stops the run at once.
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency "${@:3}" "$BASE$2" &
	WRK_PID=$!
	wait "$WRK_PID"
	WRK_PID=
}

install_if_missing wrk wrk
install_if_missing psql postgresql-client
mkdir -p "$RAW"
rm -f "$RAW"/*.txt

SERVER_PID=
WRK_PID=
SOURCE=$PWD
cleanup() {
	if [[ -n $WRK_PID ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ $SOURCE != "$PWD" ]]; then rm -rf "$SOURCE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $REF ]]; then
	SOURCE=$(mktemp -d)
	git archive "$REF" | tar -x -C "$SOURCE"
	code="$(git rev-parse --short "$REF") (BENCH_REF=$REF)"
else
	code=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git status --porcelain -- app migrations 2>/dev/null) ]]; then
		code="$code with uncommitted changes in app/ or migrations/"
	fi
fi
# The venv's editable install points at this checkout; PYTHONPATH wins over it, so the
# code benchmarked is always $SOURCE's (migrations included).
export PYTHONPATH=$SOURCE

echo "bench: fresh database $DB_NAME"
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 \
	-c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME"
export DATABASE_URL=${ADMIN_URL%/*}/$DB_NAME REDIS_URL APP_ENV=development
# The access log is written at INFO on `wengang.access`; at WARNING it costs a level check.
export LOG_LEVEL=WARNING
# Outlive a long run (BENCH_PAIRS=50): an expired token would turn /me into 401s.
export ACCESS_TOKEN_TTL_SECONDS=3600
"$BIN/wengang" migrate >/dev/null
"$BIN/wengang" seed-demo

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
"$BIN/wengang" serve --host 127.0.0.1 --port "$PORT" --workers 1 >"$RESULTS/server.log" 2>&1 &
SERVER_PID=$!

echo "bench: waiting for $BASE/readyz"
for _ in $(seq 100); do
	curl -sf "$BASE/readyz" >/dev/null && break
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "bench: the server exited; its log:" >&2
		cat "$RESULTS/server.log" >&2
		exit 1
	fi
	sleep 0.2
done
curl -sf "$BASE/readyz" >/dev/null

TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/token" \
	-d 'grant_type=password&username=county&password=wengang-county' |
	"$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
AUTH="Authorization: Bearer $TOKEN"
curl -sf -H "$AUTH" "$BASE/api/v1/me" >/dev/null

echo "bench: warming up ($WARMUP per endpoint)"
wrk_run "$WARMUP" /healthz >/dev/null
wrk_run "$WARMUP" /api/v1/me -H "$AUTH" >/dev/null

for pair in $(seq "$PAIRS"); do
	echo "bench: pair $pair of $PAIRS ($DURATION each, $THREADS threads, $CONNECTIONS connections)"
	wrk_run "$DURATION" /healthz >"$RAW/pair$pair-healthz.txt"
	wrk_run "$DURATION" /api/v1/me -H "$AUTH" >"$RAW/pair$pair-me.txt"
done

{
	echo "# Auth benchmark: GET /api/v1/me against GET /healthz"
	echo
	echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'), code: $code"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
	echo "- $("$BIN/python" --version), PostgreSQL $(psql "$ADMIN_URL" -AtXc 'SHOW server_version'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- one uvicorn worker, LOG_LEVEL=WARNING; wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
	echo "  on the same machine; $PAIRS pairs run in the order /healthz, /me, /healthz, /me, …"
	echo
	"$BIN/python" bench/wrk_report.py "$RAW"
} >"$RESULTS/latest.md"
echo
cat "$RESULTS/latest.md"
echo
echo "bench: written to $RESULTS/latest.md (raw wrk outputs in $RAW/)"
