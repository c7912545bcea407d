"""Attachment checks: size limit and an allow-list of types recognised by their content."""

from __future__ import annotations

import zipfile

from django.conf import settings
from django.http import FileResponse, Http404

# (label, content type) by what the first bytes say.
SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),  # legacy Office (OLE2)
]
OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
ALLOWED_DESCRIPTION = "PDF, Word, Excel, PowerPoint, PNG, JPEG, GIF, WebP, plain text or CSV"


class AttachmentRejected(Exception):  # noqa: N818 - reads as the outcome
    pass


def max_bytes() -> int:
    return settings.ATTACHMENT_MAX_MB * 1024 * 1024


def sniff(upload) -> str:
    """The content type of an uploaded file judged by its bytes, or AttachmentRejected."""
    if upload.size > max_bytes():
        raise AttachmentRejected(
            f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
            f"{settings.ATTACHMENT_MAX_MB} MB."
        )
    if upload.size == 0:
        raise AttachmentRejected("The file is empty.")
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            names = []
        finally:
            upload.seek(0)
        if "[Content_Types].xml" in names:
            for prefix, content_type in OOXML.items():
                if any(name.startswith(prefix) for name in names):
                    return content_type
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            name = upload.name.lower()
            return "text/csv" if name.endswith(".csv") else "text/plain"
    raise AttachmentRejected(f"This type of file is not accepted. Upload {ALLOWED_DESCRIPTION}.")


# The file names a download may end with, per type judged by content: a text file named
# "answers.html" is downloaded as "answers.html.txt", never opened as a page or a program.
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/msword": (".doc", ".xls", ".ppt"),
    OOXML["word/"]: (".docx",),
    OOXML["xl/"]: (".xlsx",),
    OOXML["ppt/"]: (".pptx",),
    "text/plain": (".txt", ".text", ".md", ".log"),
    "text/csv": (".csv",),
}


def download_name(name: str, content_type: str) -> str:
    """`name`, ending with an extension of its type (one is added if it has another)."""
    allowed = EXTENSIONS.get(content_type, ())
    if not allowed or name.lower().endswith(allowed):
        return name
    return f"{name}{allowed[0]}"


def serve_file(stored, *, name: str, content_type: str) -> FileResponse:
    """A stored file (attachment, resource version) as a download under its original name,
    never rendered by the browser on our origin (nosniff, a sandbox for the odd browser that
    would render it anyway)."""
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=download_name(name, content_type),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"  # a shared proxy keeps no copy
    return response
