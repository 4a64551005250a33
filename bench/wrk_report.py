"""Turn the raw wrk outputs of one `bench/run.sh` run into a markdown table and a verdict.

Reads `pair<N>-healthz.txt` and `pair<N>-me.txt` from the directory given, compares each
`/me` run with the `/healthz` run just before it (the baseline, measured in the same run
because the machine is noisy), and prints the table, the median ratio and pass or fail.
Standard library only, so it runs with any Python 3.11.

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

# The target from the issue: /me at least 0.4× the requests per second of /healthz, p99 < 50 ms.
MIN_RATIO = 0.4
MAX_P99_MS = 50.0

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_P99 = re.compile(r"^\s+99(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PAIR_FILE = re.compile(r"^pair(\d+)-healthz\.txt$")


class WrkOutputError(Exception):
    pass


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p99_ms: float
    socket_errors: int  # timeouts among them: wrk leaves those out of its latency figures


@dataclass(frozen=True)
class Pair:
    number: int
    healthz: WrkRun
    me: WrkRun

    @property
    def ratio(self) -> float:
        return self.me.requests_per_second / self.healthz.requests_per_second


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


def read_pairs(directory: Path) -> list[Pair]:
    numbers = sorted(
        int(match.group(1))
        for match in (_PAIR_FILE.match(path.name) for path in directory.iterdir())
        if match
    )
    if not numbers:
        raise WrkOutputError(f"{directory}: no pair<N>-healthz.txt files")
    return [
        Pair(
            number,
            healthz=parse_wrk(directory / f"pair{number}-healthz.txt"),
            me=parse_wrk(directory / f"pair{number}-me.txt"),
        )
        for number in numbers
    ]


def _run_cells(run: WrkRun) -> str:
    errors = f" ({run.socket_errors} socket err.)" if run.socket_errors else ""
    return f"{run.requests_per_second:,.0f}{errors} | {run.p99_ms:.1f}"


def report(pairs: list[Pair]) -> tuple[str, bool]:
    """The markdown for these pairs, and whether the target is met."""
    lines = [
        "| pair | /healthz req/s | /healthz p99 ms | /me req/s | /me p99 ms | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {p.number} | {_run_cells(p.healthz)} | {_run_cells(p.me)} | {p.ratio:.2f}× |"
        for p in pairs
    ]
    median_ratio = statistics.median(p.ratio for p in pairs)
    me_p99s = [p.me.p99_ms for p in pairs]
    socket_errors = sum(p.me.socket_errors + p.healthz.socket_errors for p in pairs)
    ratio_ok = median_ratio >= MIN_RATIO
    # Every /me run must stay under the bound, not just the median one.
    p99_ok = max(me_p99s) < MAX_P99_MS
    passed = ratio_ok and p99_ok and socket_errors == 0
    lines += [
        "",
        f"- median ratio: **{median_ratio:.2f}×** (target ≥ {MIN_RATIO}×): "
        + ("pass" if ratio_ok else "FAIL"),
        f"- /me p99: median {statistics.median(me_p99s):.1f} ms, worst {max(me_p99s):.1f} ms "
        f"(target < {MAX_P99_MS:.0f} ms in every run): " + ("pass" if p99_ok else "FAIL"),
    ]
    if socket_errors:
        lines.append(f"- {socket_errors} socket errors (timeouts are missing from p99): FAIL")
    lines += ["", f"**Result: {'PASS' if passed else 'FAIL'}**"]
    return "\n".join(lines), passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where run.sh left the raw wrk outputs")
    args = parser.parse_args()
    try:
        markdown, _ = report(read_pairs(args.directory))
    except WrkOutputError as exc:
        print(f"wrk_report: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(markdown)


if __name__ == "__main__":
    main()
