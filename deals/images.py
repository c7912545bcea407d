"""Workspace logos: what is accepted, what is stored, how it is served.

A logo is shown to buyers (the room) and in every email, so it is treated as hostile input:
only PNG, JPEG or WebP, recognised by content (never by name or declared type), bounded in
bytes and in pixels (a small file can declare a huge image: a decompression bomb), and
re-encoded by Pillow before it is stored. Re-encoding keeps pixels only: metadata (EXIF,
GPS, comments) is gone, and so is whatever a polyglot file carried after or inside its
image data. The stored file gets a name of our choosing with the right extension.
"""

import io
import uuid
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 1024 * 1024
MAX_SIDE = 4096  # pixels, on each side, of the uploaded image
STORED_SIDE = 1024  # the stored logo is scaled down to fit this square
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")

# What is stored: JPEG stays JPEG (photos); the rest becomes PNG, which every mail client
# shows (WebP is not shown by some).
_STORED = {"JPEG": ("JPEG", "jpg"), "PNG": ("PNG", "png"), "WEBP": ("PNG", "png")}

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


def normalize_logo(upload) -> ContentFile:
    """The uploaded file, checked and re-encoded, as a new file to store.

    Raises ValidationError (a message for the person uploading) for anything that is not
    a PNG, JPEG or WebP image of reasonable size."""
    if upload.size > MAX_BYTES:
        raise ValidationError("The logo must be at most 1 MB.", code="too_large")
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    if sniff_image_format(head) is None and b"<svg" in head.lower():
        raise ValidationError(
            "SVG logos are not accepted: upload a PNG, JPEG or WebP image.", code="svg"
        )
    too_many_pixels = ValidationError(
        f"The logo has too many pixels: at most {MAX_SIDE}×{MAX_SIDE} is accepted.",
        code="too_many_pixels",
    )
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard warns before it raises: both are refusals here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(upload, formats=ACCEPTED_FORMATS)
            if image.width > MAX_SIDE or image.height > MAX_SIDE:
                raise too_many_pixels
            stored_format, extension = _STORED[image.format]
            image.load()
            image = ImageOps.exif_transpose(image)  # keep photos upright once EXIF is gone
            image.thumbnail((STORED_SIDE, STORED_SIDE))
            if stored_format == "JPEG":
                image = image.convert("RGB")
            elif image.mode not in {"RGB", "RGBA"}:
                has_alpha = image.mode in {"LA", "PA", "RGBa"} or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
            # Pixels only: Pillow would carry over comments and profiles it read.
            image.info = {}
            out = io.BytesIO()
            image.save(out, format=stored_format, optimize=True, quality=90)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None
    except UnidentifiedImageError:
        raise ValidationError(
            "Upload a PNG, JPEG or WebP image (this file's content is not one).",
            code="invalid_type",
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ValidationError(
            "The image could not be read (damaged or truncated file).", code="invalid_image"
        ) from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")


def sniff_image_format(head: bytes) -> str | None:
    """PNG, JPEG or WEBP from a file's first bytes; None for anything else."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None
