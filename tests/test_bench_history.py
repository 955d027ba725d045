"""bench.report.read and bench.history: committed runs read back as they were written."""

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from bench.client import Stats
from bench.goals import goals
from bench.history import committed, table
from bench.report import markdown, read, write
from bench.run import Cell, Memory, Options, Results, Round

MACHINE = {"cores": 2, "cpu": "AMD EPYC", "load_average_start": (1, 1, 1),
           "date": "2026-12-07 08:45:00 UTC", "commit": "5aab9c0", "client": "wrk", "workers": 1,
           "inference_slots": 2, "ort_intra_op_threads": 1, "naive_torch_threads": 2,
           "packages": {}}  # fmt: skip
ENDPOINTS = {"sample": {"name": "GET /sample?n=16", "items": 16, "unit": "images"}}


def stats(requests: int, cpu_seconds: float = 1.0) -> Stats:
    return Stats(requests, 0, 1.0, 5.0, 9.0, cpu_seconds)


def run(litserve: int, peers: bool = True) -> Results:
    """A run whose /sample served 400 requests/s, against raw ORT's 500 and LitServe's rate."""
    cell = Cell("sample", 8, stats(400), stats(100), stats(500), 2, {"litserve": stats(litserve)})
    return Results(
        Options(endpoints=("sample",), concurrency=(8,), peers=peers), MACHINE, ENDPOINTS,
        floor={8: stats(5000)}, cells=[cell], client_check={8: stats(1000)},
        memory=Memory(100_000, 110_000, 111_000, 300, stats(9000)),
        revalidation=stats(10_000, 0.9), revalidation_floor=stats(20_000, 0.9),
    )  # fmt: skip


def test_a_written_run_reads_back_as_it_was(tmp_path: Path) -> None:
    results = run(litserve=200)
    _, raw = write(results, tmp_path)
    again = read(raw.read_text())
    assert again.cells == results.cells and again.floor == results.floor
    assert again.memory == results.memory and again.revalidation == results.revalidation
    assert markdown(again) == markdown(results)  # every table and goal, as first written


def test_history_has_a_row_per_committed_run_with_peers(tmp_path: Path) -> None:
    def commit(results: Results) -> None:
        write(results, tmp_path / "bench")
        git("add", "bench/results.json")
        git("commit", "-q", "-m", "a run")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                        *args], check=True)  # fmt: skip

    git("init", "-q")
    commit(run(litserve=300))  # 1.33x LitServe: below 1.6x
    commit(run(litserve=200, peers=False))  # no peers: not a row
    three = Options(endpoints=("sample",), concurrency=(8,), peers=True, rounds=3)
    commit(replace(run(litserve=200), options=three))  # 2.00x, its rounds not kept here
    runs = committed(tmp_path)
    assert len(runs) == 3 and json.loads(runs[0][1])["cells"][0]["peers"]["litserve"]
    lines = table(runs).splitlines()
    assert len(lines) == 4  # the header, its rule, two runs
    head = [c.strip() for c in lines[0].split("|")]
    first, last = ([c.strip() for c in line.split("|")] for line in lines[2:])
    assert (first[2], first[3]) == ("5aab9c0", runs[0][0])  # service measured, commit holding it
    column = head.index("sample / litserve, c=8")
    assert (first[column], last[column]) == ("1.33x*", "2.00x")  # a FAIL carries an asterisk
    assert first[head.index("sample / ort, c=8")] == "0.80x"
    assert first[head.index("304, CPU ms")] == "0.090"
    assert first[head.index("RSS growth")] == "+0.9%"
    assert first[head.index("goals passed")] == "3 of 4"
    assert (first[head.index("rounds")], last[head.index("rounds")]) == ("1", "3")


def test_with_rounds_each_goal_is_the_median_of_its_ratios_side_by_side(tmp_path: Path) -> None:
    """Three rounds as measured on 2026-12-07: the service's /sample against LitServe's, round by
    round 1.62x, 1.66x and 1.32x, where the ratio of each server's median round is 1.35x."""
    results = run(litserve=253)
    cells = [Cell("sample", 8, stats(ours), stats(100), stats(500), 2, {"litserve": stats(theirs)})
             for ours, theirs in ((341, 210), (420, 253), (339, 257))]  # fmt: skip
    results.rounds = [Round({8: stats(5000)}, [cell]) for cell in cells]
    results.cells[0] = replace(results.cells[0], service=stats(341))  # the medians' cell
    _, raw = write(results, tmp_path)
    again = read(raw.read_text())
    assert again.rounds == results.rounds and markdown(again) == markdown(results)
    goal = next(g for g in goals(again) if g.short == "sample / litserve, c=8")
    assert goal.figure == "1.62x" and goal.passed  # not 341 / 253 = 1.35x
    assert goal.measured == "1.62x (the median of 1.62x, 1.66x, 1.32x)"
