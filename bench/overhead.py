"""`python -m bench.overhead`: what `GET /sample` costs the service beyond its model, over HTTP.

Four services, loaded in turns over ``--rounds``; in all but the first the model's runs are
replaced by their cached outputs (the first run for each input shape is real, later ones return
the same arrays), so what a request costs is the service's own work: HTTP, the fast path, the
latents, the hop to a slot's thread, tiling and the PNG, with the model's own cost, and its noise
on a shared machine, out of the reading:

- ``as it serves``: the service as it is, the model run for real;
- ``outputs cached``: the service as it serves, but for the model;
- ``PNG cached too``: the picture made once and sent again: what tiling and encoding cost;
- ``on the event loop``: a slot's work done on the event loop's thread: what the threads cost.

Beside requests/s and CPU ms a request (from /proc), the share of it spent on the event loop's
thread (HTTP, the fast path, the latents, handing the work over and taking the answer back; the
kernel counts a thread's and the process's time in clock ticks, so with all the work on that
thread the two may differ by a tick's share, a percent or two), and
the context switches a request, every thread's, voluntary or not: NumPy, ISA-L and zlib let go of
the GIL in each call over a few hundred elements, and a thread that lets go under load waits for
it to come back. After each round, with the services idle, the model's run alone: raw
onnxruntime's CPU ms a run, on as many threads as the service has slots (bench/raw_ort.py), to
set beside ``as it serves``: what the service adds to its model when the model runs too.

    .venv/bin/python -m bench.overhead --rounds 3
"""

import argparse
import runpy
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx2

from bench import client, raw_ort
from bench.endpoints import ENDPOINTS
from bench.servers import Launch, Server, running
from service.api import generate
from service.registry import LoadedModel
from service.settings import Settings
from service.slots import InferenceSlots

VARIANTS = ("as it serves", "outputs cached", "PNG cached too", "on the event loop")
LAUNCHER = "import sys; from bench.overhead import serve; serve(sys.argv[1])"


def cache_runs() -> None:
    """Each model answers the first input of each shape for real, then the same arrays."""
    run, outputs = LoadedModel.run, {}

    def cached(self: LoadedModel, feeds: dict, *args: object, **kwargs: object) -> list:
        key = (self.name, *((name, value.shape) for name, value in feeds.items()))
        if key not in outputs:
            outputs[key] = run(self, feeds, *args, **kwargs)
        return outputs[key]

    LoadedModel.run = cached


def cache_pictures() -> None:
    """`/sample`'s picture made once for each grid and scale, then sent again."""
    grid, pictures = generate.grid, {}

    def cached(chosen, z, columns, scale, metrics) -> bytes:  # grid's own arguments
        key = (chosen.name, z.shape, columns, scale)
        if key not in pictures:
            pictures[key] = grid(chosen, z, columns, scale, metrics)
        chosen.run({"z": z})  # the cached run, as the service would make it
        return pictures[key]

    generate.grid = cached


def work_on_the_loop() -> None:
    """A slot's work done at once on the event loop's thread: no hop, no other thread."""

    async def run(self: InferenceSlots, work: Callable, *args: object, **kwargs: object) -> object:
        return work(*args, **kwargs)

    InferenceSlots.run = run


def serve(variant: str) -> None:
    """`python -m service` with ``variant``'s changes (run in the server's process)."""
    if variant != VARIANTS[0]:
        cache_runs()
    if variant == "PNG cached too":
        cache_pictures()
    elif variant == "on the event loop":
        work_on_the_loop()
    runpy.run_module("service", run_name="__main__", alter_sys=True)


def switches(server: Server) -> int:
    """Context switches so far of every thread of the server's process."""
    total = 0
    for status in Path(f"/proc/{server.process.pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    client.add_turn_options(parser, seconds=8, rounds=3, of="the four services")
    args = client.parse_turn_options(parser, argv)
    endpoint, settings = ENDPOINTS["sample"](), Settings()
    request, engine = endpoint.request, client.engines()[0]
    intra_op = settings.ort_intra_op_threads
    model, card = raw_ort.session(settings.models_dir, endpoint.model, intra_op)
    launches = {v: Launch([sys.executable, "-c", LAUNCHER, v]) for v in VARIANTS}
    readings: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in VARIANTS}
    model_runs: list[float] = []
    with tempfile.TemporaryDirectory() as logs, running(launches, Path(logs)) as servers:
        sent = {httpx2.get(server.url + request.path).content for server in servers.values()}
        if len(sent) != 1:  # the caching must not change the answer
            raise SystemExit(f"{request.path}: the services send different bytes")
        for _ in range(args.rounds):
            for variant, server in servers.items():
                client.load(engine, server.url, [request], args.concurrency, 1)  # warm
                before = server.cpu_seconds(), server.loop_cpu_seconds(), switches(server)
                stats = client.load(engine, server.url, [request], args.concurrency, args.seconds)
                after = server.cpu_seconds(), server.loop_cpu_seconds(), switches(server)
                cpu, loop, switched = (b - a for a, b in zip(before, after, strict=True))
                n = max(stats.requests, 1)
                readings[variant].append((stats.rps, cpu / n * 1e3, loop / n * 1e3, switched / n))
            alone = raw_ort.measure(
                model, endpoint.feeds(card), settings.max_concurrent_inference, args.seconds
            )
            model_runs.append(alone.cpu_ms_per_request)
    print(f"`{request.method} {request.path}`, c={args.concurrency}, {args.seconds} s a "
          f"measurement, {args.rounds} rounds ({engine}): each figure the median of its "
          "rounds\n")  # fmt: skip
    print("| service | requests/s | CPU ms a request | of it, the event loop's thread "
          "| context switches a request |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for variant, rows in readings.items():
        rps, cpu, loop, switched = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"| {variant} | {rps:,.0f} | {cpu:.3f} | {loop:.3f} | {switched:.1f} |")
    print(f"\nThe model's run alone (raw onnxruntime, {settings.max_concurrent_inference} "
          f"threads): {statistics.median(model_runs):.3f} CPU ms a run")  # fmt: skip


if __name__ == "__main__":
    main()
