"""The shipped models as eager torch modules, rebuilt from their cards and ONNX files.

The card's `training.config` rebuilds the module; the weights come from the ONNX initializers,
which the dynamo exporter names after the state_dict keys. Its graph optimiser changes a few of
them, so those are mapped back (measured: every exported model then matches onnxruntime within
1e-5):

- BatchNorm is folded into the layer before it: that layer's initializer holds the folded weight
  and `<layer>.weight_bias` the folded bias, so the BatchNorm becomes an identity that adds it;
- LSTM biases live in the ONNX LSTM node's `B` input, gates reordered (ONNX i,o,f,c; torch i,f,g,o);
- a weight used as a MatMul operand is stored transposed, under a generated name: the MatMul whose
  output gets the layer's bias added names it (a committee has several layers of one shape), else
  the one generated initializer of its shape;
- a parameter indexed by constant rows (the decoder's per-step inputs) is stored row by row, as
  `select_*` initializers in the order the graph uses them.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

from training.export import WithSoftmax
from training.models.cell_writers import CellDecoder, Renderer
from training.models.generators import Decoder
from training.models.seq2seq import ARCHITECTURES as TEXT_ARCHITECTURES
from training.models.strip_readers import ARCHITECTURES as STRIP_ARCHITECTURES
from training.models.strip_readers import Committee, Probabilities

PARITY_TOLERANCE = 1e-4


def build(card: dict[str, Any]) -> nn.Module:
    """The module whose export is the card's `model.onnx`, with untrained weights."""
    config, task = card["training"]["config"], card["task"]
    text = (
        {"n_symbols": len(card["symbols"]), "answer_len": card["answer_length"]}
        if ("symbols" in card)
        else {}
    )
    if task == "text2text":
        return WithSoftmax(TEXT_ARCHITECTURES[config["arch"]](**text, **config["model"]))
    if task in ("gan", "vae"):
        return Decoder(config["latent"], config["size"], config["channels"], config["filters"],
                       config.get("depth", 0))  # fmt: skip
    if task == "image2text":
        readers = [STRIP_ARCHITECTURES[config["arch"]](**config["model"])
                   for _ in range(config.get("members", 1))]  # fmt: skip
        return Probabilities(readers[0] if len(readers) == 1 else Committee(readers))
    if task == "text2image":
        speller = card["training"]["speller_config"]
        return Renderer(
            TEXT_ARCHITECTURES[speller["arch"]](**text, **speller["model"]),
            CellDecoder(config["latent"], config["width"]),
        )
    raise ValueError(f"no torch module for task {task!r}")


def onnx_state_dict(module: nn.Module, graph: onnx.GraphProto) -> dict[str, torch.Tensor]:
    """A state_dict for ``module`` from the initializers of its exported ``graph``."""
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    wanted = module.state_dict()
    found: dict[str, np.ndarray] = {}
    modules = dict(module.named_modules())
    for name, layer in modules.items():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            found.update(_identity_batchnorm(name, layer, arrays))
    lstms = [name for name, layer in modules.items() if isinstance(layer, nn.LSTM)]
    nodes = [node for node in graph.node if node.op_type == "LSTM"]
    for name, node in zip(lstms, nodes, strict=True):
        found.update(_lstm_biases(name, arrays[node.input[3]]))
    generated = {n: a for n, a in arrays.items() if n not in wanted}
    biased = _matmul_weights_by_bias(graph, generated)
    rows = [arrays[i] for i in dict.fromkeys(i for n in graph.node for i in n.input)
            if i.startswith("select_") and i in arrays]  # fmt: skip
    for key, value in wanted.items():
        if key in found:
            continue
        if key in arrays:
            found[key] = arrays[key]
            continue
        shape = tuple(value.shape)
        bias = key.removesuffix("weight") + "bias" if key.endswith(".weight") else None
        transposed = (
            [biased[bias]]
            if bias in biased
            else [a for a in generated.values() if value.ndim == 2 and a.shape == shape[::-1]]
        )
        stacked = [r for r in rows if r.shape == shape[1:]]
        if len(transposed) == 1:
            found[key] = transposed[0].T
        elif value.ndim == 2 and len(stacked) == shape[0]:
            found[key] = np.stack(stacked)
        else:
            raise KeyError(f"no ONNX initializer maps to {key} {shape}")
    return {k: torch.from_numpy(np.array(v)) for k, v in found.items()}


def _matmul_weights_by_bias(
    graph: onnx.GraphProto, generated: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Bias name -> the generated MatMul weight whose product that bias is added to."""
    producers = {output: node for node in graph.node for output in node.output}
    out = {}
    for node in graph.node:
        if node.op_type != "Add" or len(node.input) != 2:
            continue
        product, bias = node.input
        matmul = producers.get(product)
        if matmul is not None and matmul.op_type == "MatMul" and matmul.input[1] in generated:
            out[bias] = generated[matmul.input[1]]
    return out


def _identity_batchnorm(
    name: str, layer: nn.modules.batchnorm._BatchNorm, arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Statistics that make BatchNorm ``name`` add the bias folded into the layer before it."""
    prefix, index = name.rsplit(".", 1)
    n = layer.num_features
    return {
        f"{name}.weight": np.ones(n, np.float32),
        f"{name}.bias": arrays.get(
            f"{prefix}.{int(index) - 1}.weight_bias", np.zeros(n, np.float32)
        ),
        f"{name}.running_mean": np.zeros(n, np.float32),
        f"{name}.running_var": np.full(n, 1 - layer.eps, np.float32),  # + eps under the root: 1
        f"{name}.num_batches_tracked": np.array(0),
    }


def _lstm_biases(name: str, onnx_b: np.ndarray) -> dict[str, np.ndarray]:
    """torch's input and hidden biases of LSTM ``name`` from ONNX `B` [directions, 8 x hidden]."""

    def torch_gates(x: np.ndarray) -> np.ndarray:
        i, o, f, c = np.split(x, 4)
        return np.concatenate([i, f, c, o])

    out = {}
    for direction, suffix in zip(onnx_b, ("", "_reverse"), strict=False):
        input_bias, hidden_bias = np.split(direction, 2)
        out[f"{name}.bias_ih_l0{suffix}"] = torch_gates(input_bias)
        out[f"{name}.bias_hh_l0{suffix}"] = torch_gates(hidden_bias)
    return out


def parity(module: nn.Module, onnx_path: Path, spec: list[dict[str, Any]]) -> float:
    """Largest difference between ``module`` and onnxruntime on random inputs of ``spec``."""
    rng = np.random.default_rng(0)
    feeds = {
        s["name"]: rng.random([8 if d == "batch" else d for d in s["shape"]], np.float32)
        for s in spec
    }
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = module(*(torch.from_numpy(v) for v in feeds.values()))  # in the ONNX order
    expected = (expected,) if isinstance(expected, torch.Tensor) else expected
    got = session.run(None, feeds)
    return max(float(np.abs(e.numpy() - g).max()) for e, g in zip(expected, got, strict=True))


def load(folder: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model of ``folder`` in eval mode and its card; raises if it disagrees with its ONNX."""
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    module = build(card)
    module.load_state_dict(onnx_state_dict(module, onnx.load(str(folder / card["onnx"])).graph))
    module.eval()
    difference = parity(module, folder / card["onnx"], card["inputs"])
    if difference > PARITY_TOLERANCE:
        raise ValueError(f"{folder}: torch differs from ONNX by {difference:.2e}")
    return module, card
