"""The load benchmark's machinery end to end on a tiny budget: one endpoint, c=1 and 8, every
baseline started and stopped. It checks that numbers come out and that no server is left running;
nothing about speed (the machine is shared; docs/benchmarks.md has a full run). Also the peers
(`--peers`) without starting them: their pins, requests, table, and their apps' answers where
their venvs have been made. The one-question tools (bench.overhead, ...): test_bench_tools.py."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from bench.__main__ import parse
from bench.client import Stats, engines, load
from bench.endpoints import sample
from bench.peers import launch, venvs
from bench.report import markdown
from bench.run import Cell, Options, Results, by_cpu, middle, revalidation
from bench.servers import _state, _tree, ours, running

REPO = Path(__file__).resolve().parent.parent
COMMAND = ["-m", "bench", "--endpoints", "text", "--concurrency", "1", "8", "--duration", "1"]


def test_bench_runs_every_baseline_and_cleans_up(tmp_path: Path) -> None:
    extra = ["--warmup", "0", "--soak", "1", "--rounds", "2", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, *COMMAND, *extra], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("no wrk here" in done.stdout) == ("wrk" not in engines())

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["floor"]) == {"1", "8"}
    assert all(s["requests"] > 0 and s["errors"] == 0 for s in results["floor"].values())
    checks = results["client_check"].values()  # the floor again with the Python client, with wrk
    assert all(s["requests"] > 0 and s["errors"] == 0 for s in checks)
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
    assert set(results["pids"]) == {"service", "naive", "bare"}  # no peers without --peers
    assert set(results["machine"]["idle_cores"]) == set(results["pids"])
    assert all(cell["peers"] == {} for cell in cells)

    floors = [next(word for word in line.split() if word.endswith("/s"))
              for line in done.stdout.splitlines()
              if line.startswith("bare     POST /solve/text") and "c=8 " in line]  # fmt: skip
    assert len(floors) == 2 and len(results["rounds"]) == 2  # each round measures every cell
    slower = min(floors, key=lambda rps: float(rps.removesuffix("/s")))  # of two, the slower
    floor = results["floor"]["8"]
    assert f"{floor['requests'] / floor['seconds']:.1f}/s" == slower, (floors, floor)

    markdown = (tmp_path / "results.md").read_text()
    assert "| POST /solve/text | 8 |" in markdown and "| goal |" in markdown
    assert "every cell measured 2 times, in turn: the tables show each server's median" in markdown
    assert "paused (SIGSTOP)" in markdown
    floor_ms, ort_ms = (cpu_ms(x) for x in (results["floor"]["8"], cells[1]["ort"]))
    ceiling = f"| {floor_ms / (floor_ms + ort_ms):.2f}x |"  # the floor's and the model's CPU only
    row = next(line for line in markdown.splitlines() if "vs bare uvicorn, c=8" in line)
    assert ceiling in row, (ceiling, row)
    for kind, pid in results["pids"].items():
        assert not Path(f"/proc/{pid}").exists(), f"{kind} server (pid {pid}) still running"


def test_a_bench_stopped_by_sigterm_stops_its_servers(tmp_path: Path) -> None:
    extra = ["--warmup", "0", "--soak", "1", "--out", str(tmp_path)]
    bench = subprocess.Popen(
        [sys.executable, *COMMAND, *extra], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    servers: list[int] = []
    try:
        for line in bench.stdout:  # the first measurement: every server is up
            if line.startswith("bare "):
                break
        servers = _tree(bench.pid)[1:]
        assert len(servers) >= 3, servers  # the service, the naive and the bare servers
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        left = [pid for pid in servers if _state(pid) not in (None, "Z")]
        assert not left, f"servers left running: {left}"
    finally:  # whatever the test found, it leaves nothing behind
        for pid in [bench.pid, *servers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def cpu_ms(stats: dict) -> float:
    return stats["cpu_seconds"] / stats["requests"] * 1e3


def test_a_cell_keeps_its_median_round_and_of_two_the_worse() -> None:
    rounds = [Stats(n, 0, 1.0, 1, 2, cpu) for n, cpu in ((300, 0.3), (100, 0.2), (200, 0.5))]
    assert middle(rounds).requests == 200 and middle(rounds[:2]).requests == 100  # by requests/s
    # A 304 by its CPU a request (1.0, 2.0 and 2.5 ms here): the median, of two the costlier.
    assert middle(rounds, by_cpu).requests == 100 and middle(rounds[:2], by_cpu).requests == 100


def test_peers_only_when_asked_pinned_to_the_service_sent_text_and_sample() -> None:
    assert not parse([]).peers and parse(["--peers"]).peers
    assert parse([]).rounds == 1 and parse(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit) as refused:
        parse(["--rounds", "0"])
    assert refused.value.code == 2  # argparse's usage and one line, no traceback
    for peer, spec in launch.PEERS.items():
        pins = venvs.requirements(peer)
        assert venvs.FRAMEWORKS[peer] in pins
        for package in ("onnxruntime", "numpy", "pillow", "isal"):  # the versions the service runs
            assert f"{package}=={version(package)}" in pins, (peer, pins)
        assert set(spec.requests) == {"text", "sample"}


# What a run records about the machine, for the tables built by hand below.
MACHINE = {"cores": 2, "cpu": "x", "load_average_start": (1, 1, 1), "date": "d", "commit": "c",
           "client": "wrk", "workers": 1, "inference_slots": 2, "ort_intra_op_threads": 1,
           "naive_torch_threads": 2, "packages": {}}  # fmt: skip


def test_peer_table_puts_each_peer_beside_the_service() -> None:
    def stats(requests: int, cpu_seconds: float) -> Stats:
        return Stats(requests, 0, 1.0, 5.0, 9.0, cpu_seconds)

    machine = {**MACHINE, "peers": {"litserve": ["litserve==0"]}}
    endpoints = {"text": {"name": "POST /solve/text", "items": 1, "unit": "queries"}}
    service, peer = stats(400, 0.4), stats(100, 0.2)  # 4x the rps, half the CPU, 2x the cores
    cell = Cell("text", 8, service, stats(10, 1), stats(1000, 0.1), 2, {"litserve": peer})
    results = Results(Options(), machine, endpoints, {8: stats(1000, 0.1)}, [cell])
    table = markdown(results)
    assert "Peer litserve, in its own venv: litserve==0." in table
    row = "| POST /solve/text | 8 | litserve | 100.0 | 5.00 / 9.00 | 2.000 | 400.0 | 1.000 |"
    assert row + " 4.00x | 0.50x | 0.20 | 0.40 |" in table  # cores: CPU s in the 1 s


def test_a_paused_server_answers_nothing_until_resumed_and_still_stops(tmp_path: Path) -> None:
    with running(ours("bare"), tmp_path) as servers:
        bare = servers["bare"]
        bare.pause()
        assert _state(bare.process.pid) == "T"  # stopped, once pause returns
        with pytest.raises(httpx2.TimeoutException):
            httpx2.get(bare.url + "/ready", timeout=0.5)
        bare.resume()
        assert httpx2.get(bare.url + "/ready", timeout=10).status_code == 200
        bare.pause()  # and left paused: stop() must end it all the same
    assert not Path(f"/proc/{bare.process.pid}").exists()


def test_revalidations_load_the_service_and_the_floor_with_304s_and_meet_a_goal(
    tmp_path: Path,
) -> None:
    with running(ours("service", "bare"), tmp_path) as servers:
        for server in servers.values():  # revalidation() checks that the tag gets a 304
            again = revalidation(server, sample().request)
            loaded = [load(e, server.url, [again], 8, 1) for e in engines()]
            assert again.headers["if-none-match"].startswith('"')
            assert all(stats.requests > 0 and stats.errors == 0 for stats in loaded)  # an answer

    floor = Stats(1000, 0, 1, 1, 2, 0.04)
    for cpu_seconds, verdict in ((0.05, "PASS"), (0.2, "FAIL")):  # over 1,000 requests
        stats = Stats(1000, 0, 1, 1, 2, cpu_seconds)
        results = Results(Options(), MACHINE, {}, revalidation=stats, revalidation_floor=floor)
        row = next(line for line in markdown(results).splitlines() if "If-None-Match" in line)
        assert f"| {cpu_seconds:.3f} CPU ms/request" in row, row
        assert "; bare uvicorn 0.040 (1,000.0 requests/s)" in row, row
        assert row.endswith(f"| {verdict} |"), row


# Each peer app's handlers called as the framework calls them, in the peer's venv.
PEER_CALLS = {
    "litserve": """
from bench.peers.litserve_app import SampleGrid, SolveText
text, grid = SolveText(max_batch_size=64, batch_timeout=0.001), SampleGrid()
text.setup("cpu")
grid.setup("cpu")
answers = text.predict([text.decode_request({"query": q}) for q in QUERIES])
png = grid.encode_response(grid.predict(grid.decode_request({"n": 16, "seed": 0}))).body
""",
    "bentoml": """
from bench.peers.bentoml_app import Peer
peer = Peer.inner()
answers = peer.solve_text(QUERIES)
png = peer.sample(16, 0)
""",
}
QUERIES = ["81+24", " 5 - 7"]


@pytest.mark.parametrize("peer", PEER_CALLS)
def test_peer_app_answers_as_the_service(peer: str, client: TestClient) -> None:
    if not venvs.made(peer):
        pytest.skip(f"no {peer} venv: `python -m bench --peers` makes it (pip, package index)")
    script = (
        f"QUERIES = {QUERIES!r}\n{PEER_CALLS[peer]}"
        "import hashlib, json\n"
        "print(json.dumps({'answers': answers, 'png': hashlib.sha256(png).hexdigest()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(venvs.python(peer)), "-c", script],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["answers"] == [client.post("/solve/text", json={"query": q}).json() for q in QUERIES]
    png = client.get("/sample", params={"n": 16, "seed": 0}).content
    assert got["png"] == hashlib.sha256(png).hexdigest()
