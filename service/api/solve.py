"""Text-to-text arithmetic: `POST /solve/text`."""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from service.api.deps import ContextDep, require_json
from service.arithmetic import ALLOWED, QueryError, TextCodec, parse_query
from service.batching import Batcher, stacked
from service.context import AppContext
from service.errors import describe_errors
from service.metrics import Metrics
from service.registry import LoadedModel
from service.schemas import (
    SolveTextBatchResponse,
    SolveTextRequest,
    SolveTextResponse,
    error_responses,
)
from service.settings import Settings

router = APIRouter(tags=["solve"])

ModelName = Annotated[
    str | None, Query(description="a text2text model from /models; default: 'text2text'")
]


@router.post(
    "/solve/text",
    response_model=SolveTextResponse | SolveTextBatchResponse,
    # 400: a body FastAPI cannot parse at all (not UTF-8, JSON nested too deep to decode).
    responses=error_responses(400, 404, 413, 415, 422, 503),
    dependencies=[Depends(require_json)],
)
async def solve_text(body: SolveTextRequest, ctx: ContextDep, model: ModelName = None) -> Response:
    """Answer `{"query": ...}` with one answer, or `{"queries": [...]}` with answers in order."""
    chosen = ctx.registry.get("text2text", model)
    if body.query is not None:
        (query,) = canonical_queries(body.located(), ctx.settings.max_query_chars)
        return Response(await answer_one(ctx, chosen, query), media_type="application/json")
    # Up to max_batch queries: parsed, encoded and run in a slot's thread.
    answer = await ctx.slots.run(solve_batch, body, chosen, chosen.codec, ctx.settings, ctx.metrics)
    # Serialised here, once: returned as a model, it would be validated again against the Union.
    return Response(answer.model_dump_json(), media_type="application/json")


async def answer_one(ctx: AppContext, chosen: LoadedModel, query: str) -> str:
    """The JSON answer to one canonical ``query``. It parsed in microseconds on the event loop;
    it joins the other single queries waiting for the model's next run (service/batching.py),
    off the event loop. Also called by service/fast_path.py."""
    probs = await batcher(ctx, chosen)(chosen.codec.encode([query]))
    answer = chosen.codec.decode(probs)[0]
    return SolveTextResponse(query=query, answer=answer, model=chosen.name).model_dump_json()


route = router.routes[0]  # what service/fast_path.py labels the requests it answers with


def solve_batch(
    body: SolveTextRequest,
    chosen: LoadedModel,
    codec: TextCodec,
    settings: Settings,
    metrics: Metrics,
) -> SolveTextBatchResponse:
    named = body.located()
    if len(named) > settings.max_batch:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"queries: {len(named)} queries sent; a batch holds 1 to {settings.max_batch} queries",
        )
    queries = canonical_queries(named, settings.max_query_chars)
    answers = codec.decode(infer(chosen, metrics, codec.encode(queries)))
    return SolveTextBatchResponse(answers=answers, model=chosen.name)


def infer(chosen: LoadedModel, metrics: Metrics, queries: np.ndarray) -> np.ndarray:
    """The model's answer probabilities for one-hot ``queries``, timed for /metrics."""
    with metrics.time_inference(chosen.name):
        return chosen.run({chosen.card["inputs"][0]["name"]: queries})[0]


def batcher(ctx: AppContext, chosen: LoadedModel) -> Batcher:
    """The model's batcher of single queries, made at its first one."""
    if chosen.name not in ctx.batchers:

        def run(queries: np.ndarray) -> np.ndarray:
            ctx.metrics.count_batch(chosen.name, len(queries))  # a row per request: single ones
            return infer(chosen, ctx.metrics, queries)

        ctx.batchers[chosen.name] = Batcher(stacked(run), ctx.settings.max_batch, ctx.slots)
    return ctx.batchers[chosen.name]


def canonical_queries(named: dict[str, str], max_chars: int) -> list[str]:
    """Canonical form of every query, or one 422 listing the bad ones by location."""
    canonical, problems = [], []
    for where, raw in named.items():
        try:
            canonical.append(parse_query(raw, max_chars))
        except QueryError as exc:
            problems.append(f"{where}: {exc.problem}")
    if problems:
        detail = f"{describe_errors(problems)}; {ALLOWED}"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    return canonical
