"""Image uploads: the bytes of one image, sent as a multipart field or as the raw request body.

Only the transport is handled here (media types, the multipart form); what the bytes hold is
checked by :mod:`service.images`. The body size limit applies while the body streams in
(:mod:`service.middleware`), so an oversized upload is a 413 before it is read whole.
"""

from fastapi import HTTPException, Request, status
from starlette.datastructures import UploadFile  # what forms hold; FastAPI's is a subclass

from service.api.deps import media_type
from service.images import MEDIA_TYPES

MULTIPART = "multipart/form-data"
# A raw body may also be bytes of unstated type: what clients generated from /openapi.json send.
# Whatever the label, only a PNG or JPEG decodes (service.images).
RAW_TYPES = (*MEDIA_TYPES, "application/octet-stream")
_IMAGE = {"type": "string", "format": "binary"}


def image_body(fields: tuple[str, ...], raw_body: bool = False) -> dict:
    """The `openapi_extra` that shows /docs a body of image files in multipart ``fields`` (and,
    with ``raw_body``, a raw PNG or JPEG): the routes read the body themselves."""
    form = {"type": "object", "properties": dict.fromkeys(fields, _IMAGE), "required": list(fields)}
    content = {MULTIPART: {"schema": form}}
    if raw_body:
        content |= {kind: {"schema": _IMAGE} for kind in RAW_TYPES}
    return {"requestBody": {"required": True, "content": content}}


async def read_image_upload(request: Request, field: str) -> bytes:
    """The image in multipart field ``field``, or the whole body if it is sent as an image type."""
    if media_type(request) in RAW_TYPES:
        return await request.body()
    return (await read_image_fields(request, (field,), raw_body=True))[field]


async def read_image_fields(
    request: Request, fields: tuple[str, ...], raw_body: bool = False
) -> dict[str, bytes]:
    """The image files in multipart ``fields``; ``raw_body`` says whether the 415 for another
    media type may suggest sending the image as the whole body."""
    if media_type(request) != MULTIPART:
        sent = request.headers.get("content-type")
        what = f"Content-Type {sent!r}" if sent else "a body without Content-Type"
        names = " and ".join(repr(f) for f in fields)
        how = f"send the image(s) as multipart/form-data field(s) {names}"
        if raw_body:
            how += f", or as the raw body with Content-Type {' or '.join(RAW_TYPES)}"
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{what} is not supported; {how}"
        )
    async with request.form(max_files=len(fields), max_fields=8) as form:
        uploads = {field: form.get(field) for field in fields}
        missing = [f for f, upload in uploads.items() if not isinstance(upload, UploadFile)]
        if missing:
            found = ", ".join(repr(k) for k in form) or "none"
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"multipart field(s) {', '.join(map(repr, missing))} with an image file missing "
                f"(fields sent: {found})",
            )
        return {field: await upload.read() for field, upload in uploads.items()}
