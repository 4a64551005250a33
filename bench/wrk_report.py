"""Turn the raw wrk outputs of one `bench/run.sh` run into a markdown table and a verdict.

Reads `round<N>-<run>.txt` from the directory given, one per run of each round: `bare` (the
bare one-route FastAPI app's `/healthz`, the floor), `healthz` and `me` (our `/healthz` and
`/api/v1/me`), `first` and `last` (the first and last registered routes of the many-route app,
`bench/floor.py`). Each of ours is compared with the floor measured in the same round, because
the machine is noisy; the verdict uses the median over the rounds. Standard library only, so
it runs with any Python 3.11.

Exits 1 when a wrk output cannot be read or reports non-2xx answers: a `/me` run that was
answering 401s measures nothing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

# Targets (issue 11): requests/s as a share of the bare app's, p99 as a multiple of its p99 at
# 64 connections, the last registered route's cost as a multiple of the first's. /me keeps its
# absolute p99 bound from the foundation issue.
MIN_SHARE = {"healthz": 0.7, "me": 0.4}
MAX_P99_MULTIPLE = 3.0
MAX_ME_P99_MS = 50.0
MAX_LAST_COST = 1.1
RUNS = ("bare", "healthz", "me", "first", "last")

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_P99 = re.compile(r"^\s+99(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_ROUND_FILE = re.compile(r"^round(\d+)-bare\.txt$")


class WrkOutputError(Exception):
    pass


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p99_ms: float
    socket_errors: int  # timeouts among them: wrk leaves those out of its latency figures


@dataclass(frozen=True)
class Round:
    number: int
    runs: dict[str, WrkRun]

    def share(self, name: str) -> float:
        """Requests/s of run `name` as a share of the bare app's."""
        return self.runs[name].requests_per_second / self.runs["bare"].requests_per_second

    def p99_multiple(self, name: str) -> float:
        return self.runs[name].p99_ms / self.runs["bare"].p99_ms

    @property
    def last_cost(self) -> float:
        """What a request to the last registered route costs, the first's being 1."""
        return self.runs["first"].requests_per_second / self.runs["last"].requests_per_second


def parse_wrk(path: Path) -> WrkRun:
    text = path.read_text(encoding="utf-8")
    rps, p99 = _RPS.search(text), _P99.search(text)
    if rps is None or p99 is None:
        raise WrkOutputError(f"{path}: no Requests/sec or 99% latency (was --latency given?)")
    non_2xx = _NON_2XX.search(text)
    if non_2xx:
        raise WrkOutputError(f"{path}: {non_2xx.group(1)} non-2xx answers, figures are void")
    errors = _SOCKET_ERRORS.search(text)
    return WrkRun(
        requests_per_second=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def read_rounds(directory: Path) -> list[Round]:
    numbers = sorted(
        int(match.group(1))
        for match in (_ROUND_FILE.match(path.name) for path in directory.iterdir())
        if match
    )
    if not numbers:
        raise WrkOutputError(f"{directory}: no round<N>-bare.txt files")
    return [
        Round(number, {name: parse_wrk(directory / f"round{number}-{name}.txt") for name in RUNS})
        for number in numbers
    ]


def _cells(run: WrkRun, bare: WrkRun | None = None) -> str:
    errors = f" ({run.socket_errors} socket err.)" if run.socket_errors else ""
    share = f" ({run.requests_per_second / bare.requests_per_second:.2f}×)" if bare else ""
    return f"{run.requests_per_second:,.0f}{share}{errors} | {run.p99_ms:.1f}"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def report(rounds: list[Round]) -> tuple[str, bool]:
    """The markdown for these rounds, and whether every target is met."""
    lines = [
        "| round | bare req/s | bare p99 ms | /healthz req/s | p99 ms | /me req/s | p99 ms "
        "| first req/s | p99 ms | last req/s | p99 ms | last ÷ first cost |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds:
        bare = r.runs["bare"]
        lines.append(
            f"| {r.number} | {_cells(bare)} | {_cells(r.runs['healthz'], bare)} "
            f"| {_cells(r.runs['me'], bare)} | {_cells(r.runs['first'], bare)} "
            f"| {_cells(r.runs['last'], bare)} | {r.last_cost:.2f}× |"
        )
    lines.append("")
    passed = True
    for name, label in (("healthz", "/healthz"), ("me", "/me")):
        share = statistics.median(r.share(name) for r in rounds)
        multiples = [r.p99_multiple(name) for r in rounds]
        share_ok = share >= MIN_SHARE[name]
        p99_ok = statistics.median(multiples) <= MAX_P99_MULTIPLE
        passed &= share_ok and p99_ok
        lines += [
            f"- {label}: median **{share:.3f}×** the bare app's requests/s "
            f"(target ≥ {MIN_SHARE[name]}×): {_verdict(share_ok)}",
            f"- {label} p99: median {statistics.median(multiples):.1f}× the bare app's, worst "
            f"{max(multiples):.1f}× (target ≤ {MAX_P99_MULTIPLE:.0f}×): {_verdict(p99_ok)}",
        ]
    me_p99s = [r.runs["me"].p99_ms for r in rounds]
    me_p99_ok = max(me_p99s) < MAX_ME_P99_MS  # in every round, not just the median one
    last_cost = statistics.median(r.last_cost for r in rounds)
    last_ok = last_cost <= MAX_LAST_COST
    passed &= me_p99_ok and last_ok
    lines += [
        f"- /me p99: worst {max(me_p99s):.1f} ms (target < {MAX_ME_P99_MS:.0f} ms in every "
        f"round): {_verdict(me_p99_ok)}",
        f"- last registered route: median **{last_cost:.3f}×** the cost of the first "
        f"(target ≤ {MAX_LAST_COST}×): {_verdict(last_ok)}",
    ]
    socket_errors = sum(run.socket_errors for r in rounds for run in r.runs.values())
    if socket_errors:
        passed = False
        lines.append(f"- {socket_errors} socket errors (timeouts are missing from p99): FAIL")
    lines += ["", f"**Result: {'PASS' if passed else 'FAIL'}**"]
    return "\n".join(lines), passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where run.sh left the raw wrk outputs")
    args = parser.parse_args()
    try:
        markdown, _ = report(read_rounds(args.directory))
    except WrkOutputError as exc:
        print(f"wrk_report: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(markdown)


if __name__ == "__main__":
    main()
