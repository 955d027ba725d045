"""Train the text-to-text model and write ``exported/text2text/`` (ONNX + card)."""

import time
from pathlib import Path

import torch

from training import arithmetic as ar
from training.export import export_onnx, parity, training_record, write_card
from training.seq2seq import WithSoftmax, count_parameters
from training.text2text import Config, fit


def build(config: Config, out: Path, command: str, max_batches: int | None = None) -> dict:
    started = time.perf_counter()
    model, history, final = fit(config, max_batches=max_batches)
    seconds = time.perf_counter() - started
    train_q, test_q = ar.split(ar.all_queries(), config.train_fraction, config.split_seed)
    example = {"query": torch.from_numpy(ar.encode(test_q[:8], ar.QUERY_LEN))}
    export_onnx(WithSoftmax(model), example, out / "model.onnx", output_names=["probs"])
    card = {
        "task": "text2text",
        "description": "Answers A+B and A-B for 0 <= A, B <= 99, e.g. '81+24' -> '105'.",
        "symbols": ar.SYMBOLS,
        "query_length": ar.QUERY_LEN,
        "answer_length": ar.ANSWER_LEN,
        "padding": {"query": "right", "answer": config.answer_padding},
        "trained_paddings": list(config.paddings),
        "architecture": config.arch,
        "parameters": count_parameters(model),
        "dataset": {
            "name": "arithmetic",
            "queries": len(ar.all_queries()),
            "split": {
                "train_fraction": config.train_fraction,
                "seed": config.split_seed,
                "train": len(train_q),
                "held_out": len(test_q),
                "held_out_sha256": ar.fingerprint(test_q),
            },
        },
        "training": training_record(command, config.to_dict(), seconds, history),
        "metrics": {
            **final,
            "held_out_queries": len(test_q),
            "onnx_parity_max_abs_diff": parity(
                WithSoftmax(model),
                out / "model.onnx",
                {"query": ar.encode(test_q[:512], ar.QUERY_LEN)},
            ),
        },
    }
    return write_card(out, card)
