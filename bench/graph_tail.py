"""Is it worth letting the model tile and quantise its own images? The shipped ``gan`` run as
the service runs it (the session, then :func:`service.png.tile` and the 8-bit rounding in
NumPy), against the same graph with an ONNX tail added (clip, scale, round, cast to uint8 and
tile into the grid), for ``/sample``'s 16 images.

``python -m bench.graph_tail``: one thread, in this process, PNG encoding excluded, as it is the
same bytes; the three ways are timed in turn, round after round (the machine's load drifts), best
of 7 rounds of 200 calls each.

``python -m bench.graph_tail --http``: the same question where it is asked, under load: two
services, one as it is and one whose ``/sample?n=16`` grids come from the tailed graph (then
:func:`service.png.encode`), checked to send the same bytes, loaded in turns over ``--rounds``
(the other paused). In a slot's thread every NumPy call on the picture lets go of the GIL, and
under load the event loop's thread takes it each time; the tail makes the model's one release
do that work too.
"""

import argparse
import runpy
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import httpx2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from bench import client
from bench.endpoints import ENDPOINTS
from bench.servers import Launch, measured_load, running
from service.api import generate
from service.latents import from_seed
from service.png import encode, tile
from service.registry import session_options

REPO = Path(__file__).resolve().parent.parent
N, COLUMNS = 16, 4
CALLS = 200
VARIANTS = ("as it is", "tail in the graph")
GridMaker = Callable[..., bytes]  # service.api.generate.grid's signature
LAUNCHER = "import sys; from bench.graph_tail import serve; serve(sys.argv[1])"


def with_tail(model: onnx.ModelProto, n: int, columns: int) -> onnx.ModelProto:
    """``model`` whose ``[n, c, h, w]`` float output becomes the uint8 grid :func:`tile` lays out
    (``n`` a multiple of ``columns``: the shape is fixed in the graph)."""
    graph = model.graph
    out = graph.output[0]
    _, c, h, w = (d.dim_value for d in out.type.tensor_type.shape.dim)
    rows = n // columns
    constants = {
        "tail_zero": np.array(0, np.float32),
        "tail_one": np.array(1, np.float32),
        "tail_255": np.array(255, np.float32),
        "tail_grid": np.array([rows, columns, c, h, w], np.int64),
        "tail_picture": np.array([rows * h, columns * w, c][: 2 if c == 1 else 3], np.int64),
    }
    graph.initializer.extend(onnx.numpy_helper.from_array(v, k) for k, v in constants.items())
    graph.node.extend([
        helper.make_node("Clip", [out.name, "tail_zero", "tail_one"], ["tail_clipped"]),
        helper.make_node("Mul", ["tail_clipped", "tail_255"], ["tail_scaled"]),
        helper.make_node("Round", ["tail_scaled"], ["tail_rounded"]),
        helper.make_node("Cast", ["tail_rounded"], ["tail_bytes"], to=TensorProto.UINT8),
        helper.make_node("Reshape", ["tail_bytes", "tail_grid"], ["tail_cells"]),
        helper.make_node("Transpose", ["tail_cells"], ["tail_laid"], perm=[0, 3, 1, 4, 2]),
        helper.make_node("Reshape", ["tail_laid", "tail_picture"], ["grid"]),
    ])  # fmt: skip
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("grid", TensorProto.UINT8, None))
    return model


def milliseconds(calls: dict[str, Callable[[], object]], rounds: int = 7) -> dict[str, float]:
    """Best round per call, the calls taking turns."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], timeit.timeit(call, number=CALLS) / CALLS * 1e3)
    return best


def tailed_session(path: Path) -> ort.InferenceSession:
    model = with_tail(onnx.load(str(path)), N, COLUMNS)
    return ort.InferenceSession(model.SerializeToString(), session_options(1),
                                providers=["CPUExecutionProvider"])  # fmt: skip


def in_process() -> None:
    path = REPO / "exported" / "gan" / "model.onnx"
    plain = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
    tailed = tailed_session(path)
    z = {"z": from_seed(0, N, plain.get_inputs()[0].shape[1])}

    def service_way() -> np.ndarray:
        grid = tile(plain.run(None, z)[0], COLUMNS)
        return np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)

    def in_the_graph() -> np.ndarray:
        return tailed.run(None, z)[0]

    got, expected = in_the_graph(), service_way()
    assert got.shape == expected.shape and np.abs(got.astype(int) - expected).max() <= 1
    times = milliseconds(
        {"model": lambda: plain.run(None, z), "ours": service_way, "tail": in_the_graph}
    )
    model_only, ours, tail = times["model"], times["ours"], times["tail"]
    print(f"model alone:                      {model_only:.3f} ms")
    print(f"model, then tile + 8 bits (NumPy): {ours:.3f} ms")
    print(f"model with the tail in its graph:  {tail:.3f} ms  ({(ours - tail) / ours:+.1%} saved)")


def tail_grid(grid: GridMaker) -> GridMaker:
    """``grid`` (service.api.generate's), but with the default ``gan``'s grids of ``N`` made by
    the tailed graph: the model's run gives the uint8 picture, only the PNG is left."""
    tailed = tailed_session(REPO / "exported" / "gan" / "model.onnx")

    def made_by_the_tail(chosen, z, columns, scale, metrics) -> bytes:  # grid's own arguments
        if (chosen.name, len(z), columns) != ("gan", N, COLUMNS):
            return grid(chosen, z, columns, scale, metrics)
        with metrics.time_inference(chosen.name):
            pixels = tailed.run(None, {"z": z})[0]
        return encode(pixels, scale)

    return made_by_the_tail


def serve(variant: str) -> None:
    """`python -m service`, its ``/sample`` grids made as ``variant`` says (run in the server's
    process)."""
    if variant == VARIANTS[1]:
        generate.grid = tail_grid(generate.grid)
    runpy.run_module("service", run_name="__main__", alter_sys=True)


def over_http(args: argparse.Namespace) -> None:
    request, engine = ENDPOINTS["sample"]().request, client.engines()[0]
    launches = {v: Launch([sys.executable, "-c", LAUNCHER, v]) for v in VARIANTS}
    readings: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as logs, running(launches, Path(logs)) as servers:
        sent = {httpx2.get(server.url + request.path).content for server in servers.values()}
        if len(sent) != 1:
            raise SystemExit(f"{request.path}: the services send different bytes")
        for turn in range(args.rounds):
            for variant in VARIANTS if turn % 2 == 0 else VARIANTS[::-1]:
                server = servers[variant]
                others = [other for other in servers.values() if other is not server]
                for other in others:
                    other.pause()
                stats = measured_load(server, engine, request, args.concurrency, args.seconds)
                readings[variant].append((stats.rps, stats.cpu_ms_per_request))
                for other in others:
                    other.resume()
    print(f"`{request.method} {request.path}`, c={args.concurrency}, {args.seconds} s a "
          f"measurement, {args.rounds} rounds ({engine}): medians of the rounds\n")  # fmt: skip
    print("| service | requests/s | CPU ms a request | requests/s over the first's, by round |")
    print("|---|---:|---:|---|")
    firsts = readings[VARIANTS[0]]
    for variant, rows in readings.items():
        rps, cpu = (statistics.median(col) for col in zip(*rows, strict=True))
        ratios = [mine[0] / first[0] for first, mine in zip(firsts, rows, strict=True)]
        by_round = ", ".join(f"{r:.2f}x" for r in ratios)
        print(f"| {variant} | {rps:,.0f} | {cpu:.3f} | {statistics.median(ratios):.2f}x "
              f"({by_round}) |")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.graph_tail", description=__doc__)
    parser.add_argument("--http", action="store_true", help="two services over HTTP, in turns")
    client.add_turn_options(parser, seconds=8, rounds=6, of="the two services (with --http)")
    args = client.parse_turn_options(parser, argv)
    if args.http:
        over_http(args)
    else:
        in_process()


if __name__ == "__main__":
    main()
