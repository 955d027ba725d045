"""Results as markdown tables and JSON, with the issue's goals (bench/goals.py) marked PASS or
FAIL.

With --peers, one more table puts each peer (LitServe, BentoML: bench/peers/) beside the service
on the cells it served, with no goal attached: service / peer for throughput and for CPU.
"""

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

from bench.client import Stats
from bench.goals import goals, rate, ratios, times
from bench.run import Cell, Memory, Options, Results, Round

CLIENT_CAPPED = (
    " The Python client saturates near the floor's rate (wrk is not installed), so the floor and"
    " the service / floor ratios say more about the client than about the servers."
)


def ms(stats: Stats) -> str:
    return f"{stats.p50_ms:.2f} / {stats.p99_ms:.2f}" if stats.requests else "-"


def cpu(stats: Stats) -> str:
    return f"{stats.cpu_ms_per_request:.3f}" if stats.requests else "-"


def markdown(results: Results) -> str:
    sections = (
        _header,
        _floor_table,
        _service_table,
        _peer_table,
        _baseline_table,
        _soak,
        _goal_table,
    )
    return "\n\n".join(part for section in sections if (part := section(results))) + "\n"


def _header(results: Results) -> str:
    m, o = results.machine, results.options
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return (
        f"Command: `{o.command}`\n\n"
        f"Machine: {m['cores']} cores ({m['cpu']}), load average (1/5/15 min) at start "
        f"{_load(m['load_average_start'])}, at end {_load(m.get('load_average_end'))}; "
        f"{m['date']}, commit {m['commit']}. Client: {m['client']}, {o.duration} s per cell after "
        f"{o.warmup} s of warm-up{_rounds(o.rounds)}. Service: {m['workers']} worker(s), "
        f"{m['inference_slots']} inference slots, {m['ort_intra_op_threads']} intra-op thread(s) "
        f"per session. Naive server: {m['naive_torch_threads']} torch thread(s). {packages}."
        + _idle(m.get("idle_cores"))
        + (CLIENT_CAPPED if m["client"] == "python" else "")
        + "".join(f" Peer {name}, in its own venv: {', '.join(pins)}."
                  for name, pins in m.get("peers", {}).items())
    )  # fmt: skip


def _rounds(rounds: int) -> str:
    if rounds == 1:
        return ""
    return (
        f"; every cell measured {rounds} times, in turn: the tables show each server's median "
        "round, the goals the median of each ratio over the rounds"
    )


def _idle(cores: dict[str, float] | None) -> str:
    each = ", ".join(f"{kind} {used:.2f}" for kind, used in (cores or {}).items())
    return each and (
        f" Cores each server uses idle: {each}; every server but the one measured is"
        " paused (SIGSTOP) during each measurement, raw onnxruntime's included."
    )


def _floor_table(results: Results) -> str:
    lines = [
        "| HTTP floor: bare uvicorn, POST /solve/text | rps | p50 / p99 ms | CPU ms/request |",
        "|---|---:|---:|---:|",
        *(f"| c={c} | {rate(s)} | {ms(s)} | {cpu(s)} |" for c, s in results.floor.items()),
        *(f"| c={c}, Python client instead of wrk | {rate(s)} | {ms(s)} | - |"
          for c, s in results.client_check.items()),
    ]  # fmt: skip
    return "\n".join(lines)


def _cell_table(
    results: Results, columns: list[str], rows: Iterable[tuple[Cell, list[str]]]
) -> str:
    """A row per ``(cell, values)``: the cell's endpoint name, c, then the values under
    ``columns``."""
    lines = [
        "| " + " | ".join(["endpoint", "c", *columns]) + " |",
        "|---|" + "---:|" * (len(columns) + 1),
        *(
            "| " + " | ".join([results.endpoints[cell.endpoint]["name"], str(cell.concurrency),
                               *values]) + " |"
            for cell, values in rows
        ),
    ]  # fmt: skip
    return "\n".join(lines)


def _each_cell(results: Results, row: Callable[[Cell], list[str]]) -> list[tuple[Cell, list[str]]]:
    return [(cell, row(cell)) for cell in results.cells]


def _service_table(results: Results) -> str:
    def row(cell: Cell) -> list[str]:
        r = ratios(cell, results.floor[cell.concurrency])
        stats = cell.service
        return [
            rate(stats),
            ms(stats),
            cpu(stats),
            *(times(r[k]) for k in ("floor", "ort", "naive")),
        ]

    columns = ["service rps", "p50 / p99 ms", "CPU ms/request", "service / floor",
               "service / raw ORT", "service / naive"]  # fmt: skip
    return _cell_table(results, columns, _each_cell(results, row))


def _peer_table(results: Results) -> str:
    """A row per cell and peer that served it: the peer's numbers, the service's beside them,
    service / peer for throughput (above 1: the service serves more) and CPU per request
    (below 1: the service spends less), and the cores each kept busy: the rps ratio is the CPU
    ratio's inverse only where the two kept as many busy."""
    rows = [
        (cell, [peer, rate(stats), ms(stats), cpu(stats), rate(cell.service), cpu(cell.service),
                times(_over(cell.service.rps, stats.rps)),
                times(_over(cell.service.cpu_ms_per_request, stats.cpu_ms_per_request)),
                f"{stats.cores:.2f}", f"{cell.service.cores:.2f}"])
        for cell in results.cells
        for peer, stats in cell.peers.items()
    ]  # fmt: skip
    if not rows:
        return ""
    columns = ["peer", "peer rps", "p50 / p99 ms", "CPU ms/request", "service rps",
               "service CPU ms/request", "service / peer rps", "service / peer CPU",
               "peer cores busy", "service cores busy"]  # fmt: skip
    return _cell_table(results, columns, rows)


def _over(service: float, peer: float) -> float:
    return service / peer if peer else math.inf


def _baseline_table(results: Results) -> str:
    def row(cell: Cell) -> list[str]:
        naive, ort = cell.naive, cell.ort
        return [
            rate(naive),
            ms(naive),
            cpu(naive),
            rate(ort),
            str(cell.ort_threads),
            ms(ort),
            cpu(ort),
        ]

    columns = ["naive torch rps", "p50 / p99 ms", "CPU ms/request", "raw ORT runs/s", "threads",
               "p50 / p99 ms", "CPU ms/run"]  # fmt: skip
    return _cell_table(results, columns, _each_cell(results, row))


def _soak(results: Results) -> str:
    memory = results.memory
    if memory is None or memory.soak is None:
        return ""
    return (
        f"Soak: every endpoint in turn at c=64 for {memory.soak_seconds} s, "
        f"{rate(memory.soak)} rps, p50 / p99 {ms(memory.soak)} ms. Service RSS "
        f"{memory.start_kib / 1024:.0f} MiB after start, {memory.before_soak_kib / 1024:.0f} MiB "
        f"before the soak, {memory.after_soak_kib / 1024:.0f} MiB after."
    )


def _goal_table(results: Results) -> str:
    lines = [
        "| goal | measured | target | ceiling: floor's + model's CPU only | result |",
        "|---|---|---|---:|---|",
    ]
    for goal in goals(results):
        verdict = "-" if goal.passed is None else ("PASS" if goal.passed else "FAIL")
        lines.append(
            f"| {goal.what} | {goal.measured} | {goal.target} | {goal.ceiling} | {verdict} |"
        )
    return "\n".join(lines)


def _load(average: object) -> str:
    return "-" if average is None else " / ".join(f"{x:.2f}" for x in average)


def read(text: str) -> Results:
    """A ``results.json`` as :func:`write` wrote it, back into :class:`Results`."""
    raw = json.loads(text)

    def stats(fields: dict | None) -> Stats | None:
        return None if fields is None else Stats(**fields)

    def cell(fields: dict) -> Cell:
        peers = {name: stats(each) for name, each in fields.pop("peers", {}).items()}
        measured = {k: stats(fields.pop(k)) for k in ("service", "naive", "ort")}
        return Cell(**fields, **measured, peers=peers)

    memory = raw["memory"] and Memory(**{**raw["memory"], "soak": stats(raw["memory"]["soak"])})
    options = {**raw["options"], "out": Path(raw["options"]["out"])}
    for listed in ("endpoints", "concurrency"):
        options[listed] = tuple(options[listed])
    return Results(
        options=Options(**options),
        machine=raw["machine"],
        endpoints=raw["endpoints"],
        floor={int(c): stats(each) for c, each in raw["floor"].items()},
        cells=[cell(each) for each in raw["cells"]],
        client_check={int(c): stats(each) for c, each in raw["client_check"].items()},
        memory=memory,
        revalidation=stats(raw.get("revalidation")),  # since 2026-12-05
        revalidation_floor=stats(raw.get("revalidation_floor")),  # since 2026-12-07
        pids=raw["pids"],
        rounds=[
            Round({int(c): stats(each) for c, each in turn["floor"].items()},
                  [cell(each) for each in turn["cells"]])
            for turn in raw.get("rounds", [])  # since --rounds
        ],
    )  # fmt: skip


def write(results: Results, out: Path) -> tuple[Path, Path]:
    """``results.md`` and ``results.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md, raw = out / "results.md", out / "results.json"
    md.write_text("# Load benchmark\n\n" + markdown(results))
    raw.write_text(json.dumps(asdict(results), indent=1, default=str) + "\n")
    return md, raw
