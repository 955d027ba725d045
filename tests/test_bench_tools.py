"""The benchmark's one-question tools on a tiny budget (bench.batch_sizes, raw_ort,
switch_interval, overhead, versions, in_process, profile, graph_tail): each runs end to end and
prints what it says it measures; nothing about speed (the machine is shared)."""

import asyncio
from pathlib import Path

import pytest

from bench import batch_sizes, raw_ort
from service.latents import from_seed
from service.registry import LoadedModel, load_model, session_options

REPO = Path(__file__).resolve().parent.parent


def test_batch_sizes_runs_each_model_on_the_batch_it_names() -> None:
    for name in batch_sizes.BATCHES:
        model = load_model(REPO / "exported" / name, session_options(1))
        assert model.run(batch_sizes.rows(model, 3))[0].shape[0] == 3
        assert batch_sizes.cpu_ms(model, batch_sizes.rows(model, 2), seconds=0.01) > 0


def test_raw_ort_compares_one_model_across_models_folders() -> None:
    table = raw_ort.compare("text", [REPO / "exported"] * 2, seconds=0.05, rounds=2).splitlines()
    assert table[0].startswith("POST /solve/text: model text2text") and len(table) == 5
    assert table[3].endswith("| 1.00x |") and table[4].endswith("x |")


def test_switch_interval_loads_one_service_per_interval(capsys) -> None:
    from bench import switch_interval

    switch_interval.main(["--intervals", "5", "0.5", "--endpoints", "text", "--seconds", "1",
                          "--rounds", "1"])  # fmt: skip
    rows = [line for line in capsys.readouterr().out.splitlines() if "POST /solve/text" in line]
    assert [row.split("|")[2].strip() for row in rows] == ["5 ms", "0.5 ms"]
    with pytest.raises(SystemExit):
        switch_interval.main(["--intervals", "0"])


def test_overhead_loads_the_four_services_sending_the_same_picture(capsys) -> None:
    from bench import overhead

    overhead.main(["--seconds", "1", "--rounds", "1"])  # exits if their pictures differ
    out = capsys.readouterr().out
    rows = [line.split("|") for line in out.splitlines() if "|" in line]
    assert [row[1].strip() for row in rows[2:]] == list(overhead.VARIANTS)
    assert all(float(row[2].replace(",", "")) > 0 and float(row[3]) > 0 for row in rows[2:])
    # The event loop's thread's share: all of it on the loop, within the kernel's rounding of
    # each thread's and the process's CPU time to clock ticks (1 s here: a tick is about 2 %).
    assert all(0 < float(row[4]) <= 1.05 * float(row[3]) for row in rows[2:])
    served, cached = (float(row[3]) for row in rows[2:4])
    assert served > 2 * cached  # the first service runs its model, a few ms a request
    alone = out.splitlines()[-1]
    assert alone.startswith("The model's run alone") and float(alone.split()[-5]) > 0
    with pytest.raises(SystemExit):
        overhead.main(["--rounds", "0"])


def test_versions_loads_a_revision_beside_the_working_tree(capsys) -> None:
    from bench import versions

    versions.main(["HEAD", "--seconds", "1", "--rounds", "1"])
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if "|" in line]
    assert [row[1].strip() for row in rows[2:]] == list(versions.LOADS)  # no errors noted
    assert all(float(row[i]) > 0 for row in rows[2:] for i in (3, 5))
    with pytest.raises(SystemExit, match="not a valid object name"):
        versions.main(["no-such-revision"])
    with pytest.raises(SystemExit):
        versions.main(["HEAD", "--rounds", "0"])


def test_in_process_drives_each_fast_path_and_its_route(capsys) -> None:
    """Every request is checked for its status (200, or 304 for the revalidations) as it runs."""
    from bench import in_process

    asyncio.run(in_process.main(requests=80, rounds=1))
    lines = capsys.readouterr().out.splitlines()
    ways = ["text query, fast path", "text query, route", "304, fast path", "304, route"]
    assert [line[:22].strip() for line in lines[:5]] == [*ways, "bare ASGI app"]
    assert lines[5].startswith("text query: fast path / route ")
    assert lines[6].startswith("304: fast path / route ")
    assert [line.split(":")[0] for line in lines[7:]] == ["GET /sample?n=16", "GET /render"]
    assert all("model run alone" in line for line in lines[7:])


def test_profile_summary_counts_own_and_total_samples() -> None:
    from bench.profile import summarise

    stacks = "thread 1;main (a.py:1);work (a.py:5) 3\nthread 1;main (a.py:1) 1\nnot a stack\n"
    table = summarise(stacks)
    assert table.startswith("4 samples")
    assert "| 75.0 | 75.0 | work (a.py:5) |" in table
    assert "| 25.0 | 100.0 | main (a.py:1) |" in table


def test_graph_tail_over_http_loads_both_services_sending_the_same_picture(capsys) -> None:
    from bench import graph_tail

    graph_tail.main(["--http", "--seconds", "1", "--rounds", "1"])  # exits if the bytes differ
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if "|" in line]
    assert [row[1].strip() for row in rows[2:]] == list(graph_tail.VARIANTS)
    assert all(float(row[2].replace(",", "")) > 0 and float(row[3]) > 0 for row in rows[2:])
    assert rows[2][4].strip() == "1.00x (1.00x)"  # the first service over itself
    with pytest.raises(SystemExit):
        graph_tail.main(["--http", "--rounds", "0"])


def test_graph_tail_makes_the_services_grid_without_the_plain_models_run(monkeypatch) -> None:
    from bench import graph_tail
    from service.api import generate
    from service.metrics import Metrics

    gan = load_model(graph_tail.REPO / "exported" / "gan", session_options(1))
    z = from_seed(3, graph_tail.N, gan.card["latent"])
    expected = generate.grid(gan, z, graph_tail.COLUMNS, 2, Metrics())
    made = graph_tail.tail_grid(generate.grid)
    monkeypatch.setattr(LoadedModel, "run", lambda *_: pytest.fail("the plain graph ran"))
    assert made(gan, z, graph_tail.COLUMNS, 2, Metrics()) == expected
