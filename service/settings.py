"""Service configuration, read from `GENSEQ_*` environment variables (or passed to `create_app`)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's `exported/` folder, found from this file so the default works from any cwd.
REPO_EXPORTED = Path(__file__).resolve().parent.parent / "exported"


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
