"""Reading an image upload: the multipart body is capped before it is read whole, then parsed tightly.

Shared by ``POST /api/media`` (the compose script) and ``POST /compose/upload`` (the plain form).
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message, Receive

from fediverse.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fediverse.imaging import ImageLimits
from fediverse.web.activitypub.inbox import read_capped_body

MAX_IMAGE_BYTES = ImageLimits().max_bytes
#: The body cap: the largest image ``fediverse.imaging`` accepts, plus room for the form around it.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES + 64 * 1024
#: What the pipeline decodes (``fediverse.imaging.decode.ACCEPTED_FORMATS``), for ``<input accept>``.
ACCEPTED_TYPES = "image/jpeg,image/png,image/webp,image/gif"


async def read_upload_form(request: Request, *, max_fields: int = 4) -> FormData:
    """The posted multipart form: 413 before parsing anything when the body is over the cap."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("Upload the image as multipart/form-data with a 'file' field.")
    try:
        body = await read_capped_body(request, MAX_UPLOAD_BYTES)
    except PayloadTooLarge as error:
        raise PayloadTooLarge(
            f"The picture is too large: at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB.", detail=str(error)
        ) from error
    return await Request(request.scope, replay_body(body)).form(
        max_files=1, max_fields=max_fields, max_part_size=16 * 1024
    )


async def read_upload(form: FormData, name: str = "file") -> bytes:
    """The bytes of the form's one file (``BadRequest`` when none was chosen)."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
        raise BadRequest("Choose a picture to upload (the 'file' field is empty).")
    return await upload.read()


def replay_body(body: bytes) -> Receive:
    """An ASGI ``receive`` that hands the already-read body to Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
