"""Service configuration, read from `GENSEQ_*` environment variables (or passed to `create_app`)."""

import os
from pathlib import Path
from typing import Annotated, Literal

import onnxruntime as ort
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository's `exported/` folder, found from this file so the default works from any cwd.
REPO_EXPORTED = Path(__file__).resolve().parent.parent / "exported"


def usable_cores() -> int:
    """Cores this process may run on (a container's cpuset, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Settings(BaseSettings):
    """Limits default to the values in API.md; each is configurable, and enforced, never clamped."""

    model_config = SettingsConfigDict(env_prefix="GENSEQ_")

    models_dir: Path = REPO_EXPORTED
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    max_batch: int = Field(default=4096, ge=1)
    max_query_chars: int = Field(default=64, ge=5)
    max_image_side: int = Field(default=2048, ge=28)
    # Measured on the 2-core dev machine with the shipped text2text model (medians, interleaved
    # rounds, machine busy with training): 1 thread beat 2 and 0 (= all cores) at batch 1
    # (0.24 ms vs 0.45 ms) and at batch 4096 (255 ms vs 350 ms). One thread per session also
    # leaves the other core to concurrent requests instead of one request spinning on both.
    ort_intra_op_threads: int = Field(default=1, ge=0)
    # onnxruntime execution providers in order of preference, comma-separated, each one that the
    # installed onnxruntime has ("CUDA" for CUDAExecutionProvider: pip install onnxruntime-gpu).
    ort_providers: Annotated[tuple[str, ...], NoDecode] = ("CPUExecutionProvider",)
    # Serving. Each worker is a process with its own copy of every model.
    workers: int = Field(default=1, ge=1)
    # A request whose response has not started by then gets a 504; see service/middleware.py.
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # Requests doing their CPU work (decoding, model runs, PNG encoding) at once per worker, all
    # models together; the others wait in arrival order (service/slots.py). With one intra-op
    # thread per session, one per core keeps the cores busy without time-slicing each other.
    max_concurrent_inference: int = Field(default_factory=usable_cores, ge=1)
    # On SIGTERM, time for in-flight requests to finish (the largest batch takes ~0.3 s here);
    # below `docker stop`'s 10 s, so the lifespan shutdown still runs. Must be >= 1: uvicorn reads 0
    # as "wait forever".
    graceful_shutdown_seconds: int = Field(default=5, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_json: bool = True  # one JSON object a line; false gives plain text lines for a terminal
    # FastAPI's native OpenTelemetry (request spans, metrics, logs), for a deployment that sets up
    # an OpenTelemetry provider (opentelemetry-instrument, or the SDK's environment variables).
    opentelemetry: bool = False

    @field_validator("ort_providers", mode="before")
    @classmethod
    def _available_providers(cls, value: object) -> object:
        """Full names from a comma-separated list, each one this onnxruntime has."""
        if not isinstance(value, str):
            return value
        names = [n.strip() for n in value.split(",") if n.strip()]
        names = [n if n.endswith("ExecutionProvider") else f"{n}ExecutionProvider" for n in names]
        available = ort.get_available_providers()
        missing = [n for n in names if n not in available]
        if not names or missing:
            raise ValueError(
                f"{', '.join(missing) or 'no provider'} not available in this onnxruntime; "
                f"it has {', '.join(available)}"
            )
        return tuple(names)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        """Accept INFO as well as info: both spellings are common in environment files."""
        return value.lower() if isinstance(value, str) else value


def settings_error(error: ValidationError) -> str:
    """A bad setting as one line naming its variable, for a start that cannot go on."""
    return "; ".join(
        f"GENSEQ_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )
