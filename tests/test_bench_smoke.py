"""The load benchmark's machinery end to end on a tiny budget: one endpoint, c=1 and 8, every
baseline started and stopped. It checks that numbers come out and that no server is left running;
nothing about speed (the machine is shared; docs/benchmarks.md has a full run). Also the
batch-size measurement, on a tiny budget."""

import json
import subprocess
import sys
from pathlib import Path

from bench import batch_sizes
from service.registry import load_model, session_options

REPO = Path(__file__).resolve().parent.parent
COMMAND = ["-m", "bench", "--endpoints", "text", "--concurrency", "1", "8", "--duration", "1"]


def test_bench_runs_every_baseline_and_cleans_up(tmp_path: Path) -> None:
    extra = ["--warmup", "0", "--soak", "1", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, *COMMAND, *extra], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["floor"]) == {"1", "8"}
    assert all(s["requests"] > 0 and s["errors"] == 0 for s in results["floor"].values())
    cells = results["cells"]
    assert [(c["endpoint"], c["concurrency"]) for c in cells] == [("text", 1), ("text", 8)]
    for cell in cells:
        for kind in ("service", "naive", "ort"):
            assert cell[kind]["errors"] == 0, (kind, cell)
            assert cell[kind]["cpu_seconds"] is not None
        assert cell["service"]["requests"] > 0 and cell["ort"]["requests"] > 0
    assert sum(c["naive"]["requests"] for c in cells) > 0  # slow under load, but it answers
    memory = results["memory"]
    assert memory["before_soak_kib"] > 0 and memory["after_soak_kib"] > 0
    assert memory["soak"]["requests"] > 0

    markdown = (tmp_path / "results.md").read_text()
    assert "| POST /solve/text | 8 |" in markdown and "| goal |" in markdown
    floor_ms, ort_ms = (cpu_ms(x) for x in (results["floor"]["8"], cells[1]["ort"]))
    ceiling = f"| {floor_ms / (floor_ms + ort_ms):.2f}x |"  # the floor's and the model's CPU only
    row = next(line for line in markdown.splitlines() if "vs bare uvicorn, c=8" in line)
    assert ceiling in row, (ceiling, row)
    for kind, pid in results["pids"].items():
        assert not Path(f"/proc/{pid}").exists(), f"{kind} server (pid {pid}) still running"


def cpu_ms(stats: dict) -> float:
    return stats["cpu_seconds"] / stats["requests"] * 1e3


def test_batch_sizes_runs_each_model_on_the_batch_it_names() -> None:
    for name in batch_sizes.BATCHES:
        model = load_model(REPO / "exported" / name, session_options(1))
        assert model.run(batch_sizes.rows(model, 3))[0].shape[0] == 3
        assert batch_sizes.cpu_ms(model, batch_sizes.rows(model, 2), seconds=0.01) > 0


def test_profile_summary_counts_own_and_total_samples() -> None:
    from bench.profile import summarise

    stacks = "thread 1;main (a.py:1);work (a.py:5) 3\nthread 1;main (a.py:1) 1\nnot a stack\n"
    table = summarise(stacks)
    assert table.startswith("4 samples")
    assert "| 75.0 | 75.0 | work (a.py:5) |" in table
    assert "| 25.0 | 100.0 | main (a.py:1) |" in table
