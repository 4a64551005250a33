#!/usr/bin/env bash
# The request benchmark: our GET /healthz and GET /api/v1/me, and the first and last of many
# routes, each against a bare one-route FastAPI app measured in the same run, one uvicorn worker
# per app, wrk in a second process, runs interleaved in rounds. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
# A server we may create and drop a database on; the URL must not carry a query string.
ADMIN_URL=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1/postgres}
DB_NAME=${BENCH_DB_NAME:-wengang_bench}
# Login throttling keeps its counters here; nothing is flushed.
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-5s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
RESULTS=bench/results
RAW=$RESULTS/raw
# BENCH_REF=<commit> benchmarks that commit, exported to a temporary directory, instead of the
# working tree (handy while the tree has edits in progress). The venv is shared: same deps.
REF=${BENCH_REF:-}
# BENCH_FULL_SCAN=1 serves the many-route app without the route index (Starlette's dispatch).
FULL_SCAN=${BENCH_FULL_SCAN:+--full-scan}

install_if_missing() { # command, Debian package
	command -v "$1" >/dev/null && return
	echo "bench: installing $2 with apt-get"
	apt-get install -y -qq "$2" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
}

free_port() {
	"$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wrk_run() { # duration, URL, extra wrk arguments...
	# In the background and waited for, so that Ctrl-C or a TERM stops the run at once.
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency "${@:3}" "$2" &
	WRK_PID=$!
	wait "$WRK_PID"
	WRK_PID=
}

install_if_missing wrk wrk
install_if_missing psql postgresql-client
mkdir -p "$RAW"
rm -f "$RAW"/*.txt

SERVER_PIDS=()
WRK_PID=
SOURCE=$PWD
cleanup() {
	if [[ -n $WRK_PID ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
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
# Outlive a long run (BENCH_ROUNDS=50): an expired token would turn /me into 401s.
export ACCESS_TOKEN_TTL_SECONDS=3600
# One account writes thousands a second: its writes are counted as always, never refused.
export WRITE_RATE_MAX=1000000000
"$BIN/wengang" migrate >/dev/null
"$BIN/wengang" seed-demo

start_server() { # name, URL that answers once it is ready, command...
	local log=$RESULTS/$1.log
	"${@:3}" >"$log" 2>&1 &
	local pid=$!
	SERVER_PIDS+=("$pid")
	echo "bench: waiting for $2"
	for _ in $(seq 100); do
		curl -sf "$2" >/dev/null && return
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: $1 exited; its log:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.2
	done
	curl -sf "$2" >/dev/null
}

BASE=http://127.0.0.1:$(free_port)
BARE=http://127.0.0.1:$(free_port)
WIDE=http://127.0.0.1:$(free_port)
start_server server "$BASE/readyz" \
	"$BIN/wengang" serve --host 127.0.0.1 --port "${BASE##*:}" --workers 1
# The floor and the many-route app: the same uvicorn, the same options (bench/floor.py). Each
# server idles while another is measured.
start_server bare "$BARE/healthz" "$BIN/python" bench/floor.py bare --port "${BARE##*:}"
# shellcheck disable=SC2086 # FULL_SCAN is one optional word
start_server wide "$WIDE/healthz" "$BIN/python" bench/floor.py wide --port "${WIDE##*:}" $FULL_SCAN

TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/token" \
	-d 'grant_type=password&username=county&password=wengang-county' |
	"$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
AUTH="Authorization: Bearer $TOKEN"
curl -sf -H "$AUTH" "$BASE/api/v1/me" >/dev/null
read -r FIRST LAST < <(PYTHONPATH=bench "$BIN/python" -c 'import floor; print(floor.FIRST, floor.LAST)')

measure() { # duration, name, output file
	case $2 in
	bare) wrk_run "$1" "$BARE/healthz" ;;
	healthz) wrk_run "$1" "$BASE/healthz" ;;
	me) wrk_run "$1" "$BASE/api/v1/me" -H "$AUTH" ;;
	first) wrk_run "$1" "$WIDE$FIRST" ;;
	last) wrk_run "$1" "$WIDE$LAST" ;;
	esac >"$3"
}

echo "bench: warming up ($WARMUP per endpoint)"
for name in bare healthz me first last; do measure "$WARMUP" "$name" /dev/null; done

for round in $(seq "$ROUNDS"); do
	echo "bench: round $round of $ROUNDS ($DURATION each, $THREADS threads, $CONNECTIONS connections)"
	# First and last swap places every other round, so that a drift of the machine's speed
	# during the round does not favour either.
	order="bare healthz me first last"
	if ((round % 2 == 0)); then order="bare healthz me last first"; fi
	for name in $order; do measure "$DURATION" "$name" "$RAW/round$round-$name.txt"; done
done

{
	echo "# Request benchmark: against a bare one-route FastAPI app"
	echo
	echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'), code: $code"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
	echo "- $("$BIN/python" --version), PostgreSQL $(psql "$ADMIN_URL" -AtXc 'SHOW server_version'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- FastAPI $("$BIN/python" -c 'import fastapi; print(fastapi.__version__)'), uvicorn $("$BIN/python" -c 'import uvicorn; print(uvicorn.__version__)')"
	echo "- one uvicorn worker per app, LOG_LEVEL=WARNING; wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
	echo "  on the same machine; $ROUNDS rounds of: bare /healthz, our /healthz, /me, then the"
	echo "  many-route app's first and last routes (swapped every other round)${FULL_SCAN:+; the many-route app WITHOUT the route index}"
	echo
	"$BIN/python" bench/wrk_report.py "$RAW"
} >"$RESULTS/latest.md"
echo
cat "$RESULTS/latest.md"
echo
echo "bench: written to $RESULTS/latest.md (raw wrk outputs in $RAW/)"
