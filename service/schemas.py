"""Request and response bodies; they make `/openapi.json` describe the contract in API.md."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ONE_OF_QUERY = (
    "send exactly one of 'query' (a string such as \"81+24\") "
    "or 'queries' (a list of 1 or more such strings)"
)


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: one readable string saying what is wrong and what is allowed."""

    detail: str = Field(examples=["query: operand 100 is over 99; expected 'A+B' or 'A-B' ..."])


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    status: Literal["ready"] = "ready"


class TensorSpec(BaseModel):
    name: str
    dtype: str
    shape: list[int | Literal["batch"]]


class ModelInfo(BaseModel):
    """A loaded model: its name and task, plus every other field of its card as is."""

    model_config = ConfigDict(extra="allow")

    name: str
    task: str
    sha256: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class SolveTextRequest(BaseModel):
    """One query, or a batch of them answered in order. Spaces anywhere are ignored."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"query": "81+24"}, {"queries": ["81+24", "41-89"]}]}
    )

    query: str | None = Field(default=None, description="'A+B' or 'A-B', 0 <= A, B <= 99")
    queries: list[str] | None = Field(
        default=None,
        min_length=1,
        description="1 to max_batch (4096 unless configured) queries like `query`",
    )

    @model_validator(mode="before")
    @classmethod
    def exactly_one(cls, data: Any) -> Any:
        """Check the body's shape first, so a wrong one is told what the right one is."""
        if not isinstance(data, dict):
            raise ValueError(f"the body is {_json_type(data)}; {ONE_OF_QUERY}")
        if ("query" in data) == ("queries" in data):
            raise ValueError(ONE_OF_QUERY)
        if "query" in data and not isinstance(data["query"], str):
            raise ValueError(f"'query' is {_json_type(data['query'])}; {ONE_OF_QUERY}")
        queries = data.get("queries", [""])
        if not isinstance(queries, list) or not queries:
            found = "an empty list" if queries == [] else _json_type(queries)
            raise ValueError(f"'queries' is {found}; {ONE_OF_QUERY}")
        for i, query in enumerate(queries):
            if not isinstance(query, str):
                raise ValueError(f"queries[{i}] is {_json_type(query)}; {ONE_OF_QUERY}")
        return data

    def located(self) -> dict[str, str]:
        """Each query keyed by where it sits in the body ("query", "queries[3]"), for errors."""
        if self.query is not None:
            return {"query": self.query}
        return {f"queries[{i}]": q for i, q in enumerate(self.queries or [])}


def _json_type(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words ("a number", "null")."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return "null" if value is None else names.get(type(value), type(value).__name__)


class SolveTextResponse(BaseModel):
    query: str = Field(description="the query in canonical form (spaces removed)")
    answer: str
    model: str


class SolveTextBatchResponse(BaseModel):
    answers: list[str] = Field(description="one answer per query, in the order sent")
    model: str


class SolveImageResponse(BaseModel):
    answer: str
    expression: str = Field(
        description="the symbols the model read in the cells, padding blanks stripped; may not be "
        "a valid query if the handwriting is not one"
    )
    model: str


class RenderResponse(BaseModel):
    """`GET /render?format=json`: the PNG inline, with what the model wrote."""

    query: str = Field(description="the query in canonical form")
    written: str = Field(description="the characters the model drew, left to right")
    seed: int
    scale: int
    width: int
    height: int
    model: str
    png: str = Field(description="the PNG, base64-encoded (use as data:image/png;base64,...)")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting `codes` with the string-detail error body."""
    return {code: {"model": ErrorResponse} for code in codes}
