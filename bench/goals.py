"""The issue's goals as ratios of numbers measured side by side in one run, marked PASS or FAIL.

The goals are ratios because the machine is shared: an absolute rps would say more about the
neighbours' load than about the service.

Next to each goal stands its ceiling: the ratio a service would reach if each request cost only
the HTTP floor's CPU plus one run of the model (raw onnxruntime's CPU per run), nothing else. At
c=8 the servers are CPU-bound, so throughput goes as 1 / CPU per request, and a goal above its
ceiling cannot be met by any service that runs the model once a request on this machine. (A
service that answers several requests with one run can pass it by the share of a run it saves:
the service batches single text queries, service/batching.py.)
"""

import math
import statistics
from typing import NamedTuple

from bench.client import Stats
from bench.run import Cell, Results

MAX_RSS_GROWTH = 0.10
MAX_REVALIDATION_CPU_MS = 0.1


class Goal(NamedTuple):
    """One row of the report's goal table."""

    what: str
    measured: str  # the figure first, then the numbers behind it
    target: str
    ceiling: str
    passed: bool | None  # None: not measured
    short: str  # the goal in a few words: a column of bench/history.py's table

    @property
    def figure(self) -> str:
        """The measured ratio or cost alone: "0.51x", "0.093", "+0.3%"."""
        return "-" if self.passed is None else self.measured.split()[0]


def rate(stats: Stats) -> str:
    errors = f" ({stats.errors} errors)" if stats.errors else ""
    return f"{stats.rps:,.1f}{errors}"


def times(ratio: float) -> str:
    return f"{ratio:.2f}x" if math.isfinite(ratio) else "-"


def ratios(cell: Cell, floor: Stats) -> dict[str, float]:
    """The service's throughput over each baseline's and peer's, for the same requests (ORT: same
    batch)."""

    def over(baseline: Stats) -> float:
        return cell.service.rps / baseline.rps if baseline.rps else math.inf

    return {name: over(stats) for name, stats in baselines(cell, floor).items()}


def baselines(cell: Cell, floor: Stats) -> dict[str, Stats]:
    """What the service is compared with in a cell, by name: the floor, ORT, naive, each peer."""
    return {"floor": floor, "ort": cell.ort, "naive": cell.naive, **cell.peers}


# The goals: endpoint, what it is compared with, at which concurrency, the least ratio.
# "peers": each peer that served the cell, every one of them.
GOALS = (
    ("text", "floor", 8, 0.40),
    ("text", "floor", 64, 0.40),
    ("text", "peers", 8, 2.5),
    ("text", "peers", 64, 2.5),
    ("sample", "ort", 8, 0.75),
    ("sample", "peers", 8, 1.6),
    ("image", "ort", 8, 0.5),
    ("render", "ort", 8, 0.5),
)
BASELINES = {"floor": "bare uvicorn", "ort": "raw onnxruntime", "naive": "naive torch"}


def goals(results: Results) -> list[Goal]:
    cells = {(c.endpoint, c.concurrency): c for c in results.cells}
    rows: list[Goal] = []
    for endpoint, baseline, c, minimum in GOALS:
        name = results.endpoints.get(endpoint, {}).get("name", endpoint)
        cell, floor = cells.get((endpoint, c)), results.floor.get(c)
        names = sorted(cell.peers) if cell and baseline == "peers" else [baseline]
        if cell is None or floor is None or not names:
            what = f"{name} vs {BASELINES.get(baseline, baseline)}, c={c}"
            short = f"{endpoint} / {baseline}, c={c}"
            rows.append(Goal(what, "not measured", f">= {minimum}x", "-", None, short))
            continue
        items, unit = (results.endpoints[endpoint][k] for k in ("items", "unit"))
        against, measured, best = baselines(cell, floor), ratios(cell, floor), ceilings(cell, floor)
        per_round = [
            ratios(one, turn.floor[c])
            for turn in results.rounds
            for one in turn.cells
            if (one.endpoint, one.concurrency) == (endpoint, c)
        ]
        for each in names:
            ratio = measured[each]
            detail = (
                f"{times(ratio)} ({cell.service.rps * items:,.0f} vs "
                f"{against[each].rps * items:,.0f} {unit}/s)"
            )
            if per_round:  # each round's ratio, of cells side by side; the goal is their median
                each_round = [r[each] for r in per_round]
                ratio = statistics.median_low(each_round)
                detail = f"{times(ratio)} (the median of {', '.join(map(times, each_round))})"
            ceiling = best.get(each)
            what = f"{name} {unit}/s vs {BASELINES.get(each, each)}, c={c}"
            shown = "-" if ceiling is None else times(ceiling)
            short = f"{endpoint} / {each}, c={c}"
            rows.append(Goal(what, detail, f">= {minimum}x", shown, ratio >= minimum, short))
    return [*rows, _revalidation_goal(results), _memory_goal(results)]


def _revalidation_goal(results: Results) -> Goal:
    what, target = "repeated GET /sample with If-None-Match (304), c=8", "< 0.1 CPU ms/request"
    short, stats = "304, CPU ms", results.revalidation
    if stats is None:
        return Goal(what, "not measured", target, "-", None, short)
    detail = f"{stats.cpu_ms_per_request:.3f} CPU ms/request ({rate(stats)} requests/s)"
    floor = results.revalidation_floor
    if floor is not None:
        detail += f"; bare uvicorn {floor.cpu_ms_per_request:.3f} ({rate(floor)} requests/s)"
    return Goal(
        what, detail, target, "-", stats.cpu_ms_per_request < MAX_REVALIDATION_CPU_MS, short
    )


def ceilings(cell: Cell, floor: Stats) -> dict[str, float]:
    """The ratios of `ratios` for a service whose CPU per request were the floor's plus the
    model's alone (see the module's docstring); none for peers, whose own costs are theirs."""
    least = floor.cpu_ms_per_request + cell.ort.cpu_ms_per_request
    return {
        "floor": floor.cpu_ms_per_request / least,
        "ort": cell.ort.cpu_ms_per_request / least,
        "naive": cell.naive.cpu_ms_per_request / least,
    }


def _memory_goal(results: Results) -> Goal:
    what, target, memory = (
        "service RSS growth over the soak",
        f"< {MAX_RSS_GROWTH:.0%}",
        results.memory,
    )
    short = "RSS growth"
    if memory is None or not memory.soak_seconds:
        return Goal(what, "not measured", target, "-", None, short)
    growth = memory.after_soak_kib / memory.before_soak_kib - 1
    detail = (
        f"{growth:+.1%} ({memory.before_soak_kib / 1024:.0f} -> "
        f"{memory.after_soak_kib / 1024:.0f} MiB over {memory.soak_seconds} s at c=64)"
    )
    return Goal(what, detail, target, "-", growth < MAX_RSS_GROWTH, short)
