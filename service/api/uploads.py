"""Image uploads: the bytes of one image, sent as a multipart field or as the raw request body.

Only the transport is handled here (media types, the multipart form); what the bytes hold is
checked by :mod:`service.images`. The body size limit applies while the body streams in
(:mod:`service.body_limit`), so an oversized upload is a 413 before it is read whole.
"""

from fastapi import HTTPException, Request, status
from starlette.datastructures import UploadFile  # what forms hold; FastAPI's is a subclass

from service.api.deps import media_type
from service.images import MEDIA_TYPES

MULTIPART = "multipart/form-data"


async def read_image_upload(request: Request, field: str) -> bytes:
    """The image in multipart field ``field``, or the whole body if it is sent as an image type."""
    kind = media_type(request)
    if kind in MEDIA_TYPES:
        return await request.body()
    if kind != MULTIPART:
        sent = request.headers.get("content-type")
        what = f"Content-Type {sent!r}" if sent else "a body without Content-Type"
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"{what} is not supported; send the image as multipart/form-data "
            f"field {field!r}, or as the raw body with Content-Type {' or '.join(MEDIA_TYPES)}",
        )
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            found = ", ".join(repr(k) for k in form) or "none"
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"multipart field {field!r} with an image file is missing (fields sent: {found})",
            )
        return await upload.read()
