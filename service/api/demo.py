"""The demo page: `GET /` and its script and style under `/static/`, all shipped in the package.

Kept out of the OpenAPI document: it is a page for people, not part of the HTTP contract.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=STATIC), name="static")


@router.get("/")
async def demo_page() -> FileResponse:
    return FileResponse(STATIC / "index.html")
