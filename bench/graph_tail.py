"""Is it worth letting the model tile and quantise its own images? The shipped ``gan`` run as
the service runs it (the session, then :func:`service.png.tile` and the 8-bit rounding in
NumPy), against the same graph with an ONNX tail added (clip, scale, round, cast to uint8 and
tile into the grid), for ``/sample``'s 16 images; PNG encoding excluded, as it is the same bytes.

``python -m bench.graph_tail``: one thread, in this process; the three ways are timed in turn,
round after round (the machine's load drifts), best of 7 rounds of 200 calls each.
"""

import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from service.latents import from_seed
from service.png import tile
from service.registry import session_options

REPO = Path(__file__).resolve().parent.parent
N, COLUMNS = 16, 4
CALLS = 200


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


def main() -> None:
    path = REPO / "exported" / "gan" / "model.onnx"
    options = session_options(1)
    plain = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tailed_model = with_tail(onnx.load(str(path)), N, COLUMNS)
    tailed = ort.InferenceSession(tailed_model.SerializeToString(), options,
                                  providers=["CPUExecutionProvider"])  # fmt: skip
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


if __name__ == "__main__":
    main()
