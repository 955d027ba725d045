"""Text-to-text arithmetic: `POST /solve/text`."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from service.api.deps import MetricsDep, RegistryDep, SettingsDep, require_json
from service.arithmetic import ALLOWED, QueryError, TextCodec, parse_query
from service.errors import describe_errors
from service.schemas import (
    SolveTextBatchResponse,
    SolveTextRequest,
    SolveTextResponse,
    error_responses,
)

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
def solve_text(
    body: SolveTextRequest,
    registry: RegistryDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    model: ModelName = None,
) -> SolveTextResponse | SolveTextBatchResponse:
    """Answer `{"query": ...}` with one answer, or `{"queries": [...]}` with answers in order."""
    # A plain `def`: FastAPI runs it in its thread pool, so inference never blocks the event loop.
    chosen = registry.get("text2text", model)
    named = body.located()
    if body.queries is not None and len(named) > settings.max_batch:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"queries: {len(named)} queries sent; a batch holds 1 to {settings.max_batch} queries",
        )
    queries = canonical_queries(named, settings.max_query_chars)
    codec = TextCodec.from_card(chosen.card)
    with metrics.time_inference(chosen.name):
        probs = chosen.run({chosen.card["inputs"][0]["name"]: codec.encode(queries)})[0]
    answers = codec.decode(probs)
    if body.query is not None:
        return SolveTextResponse(query=queries[0], answer=answers[0], model=chosen.name)
    return SolveTextBatchResponse(answers=answers, model=chosen.name)


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
