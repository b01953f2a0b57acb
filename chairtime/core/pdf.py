"""Printable pages as PDF (WeasyPrint, drawing with Debian's pango and system fonts).

The same HTML the browser prints becomes a PDF. WeasyPrint may fetch the stylesheets the
page links; the fetcher serves only our own static files from disk and PNG images inlined
as data URLs (a plan's drawn signature), so rendering never touches the network and a
patient's document cannot be made to load anything else.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.utils.text import slugify

_MIME = {".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}
PNG_DATA_PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A drawn signature is at most 200 kB as a data URL (the acceptance refuses larger ones);
# anything bigger in a document is not ours.
MAX_DATA_URL_LENGTH = 200 * 1024


class RefusedResource(ValueError):
    """A document asked for something that is not one of our static files."""


def _static_file(url: str) -> Path:
    """The static file behind `/static/...` (or a `file:` URL WeasyPrint derived from it)."""
    path = url.split("://", 1)[-1] if url.startswith("file://") else url
    if "/static/" not in path:
        raise RefusedResource(url)
    relative = path.split("/static/", 1)[1].split("?", 1)[0]
    if ".." in relative.split("/"):
        raise RefusedResource(url)
    found = finders.find(_source_name(relative))
    if not found:
        raise RefusedResource(url)
    return Path(str(found))


def _inline_png(url: str) -> bytes:
    """The image of a `data:image/png;base64,…` URL, decoded here: bounded in size, and
    refused unless it is a PNG."""
    if not url.startswith(PNG_DATA_PREFIX) or len(url) > MAX_DATA_URL_LENGTH:
        raise RefusedResource(url[:80])
    try:
        image = base64.b64decode(url.removeprefix(PNG_DATA_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise RefusedResource(url[:80]) from None
    if not image.startswith(PNG_MAGIC):
        raise RefusedResource(url[:80])
    return image


def _source_name(relative: str) -> str:
    """The file behind a name `{% static %}` wrote: in production the manifest storage links
    hashed copies ("css/app.55e7cbd3b4f8.css"), which we read from their source instead."""
    hashed_files: dict[str, str] = getattr(staticfiles_storage, "hashed_files", None) or {}
    return next((name for name, hashed in hashed_files.items() if hashed == relative), relative)


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if url.startswith("data:"):
                image = _inline_png(url)
                return URLFetcherResponse(url, body=image, headers={"Content-Type": "image/png"})
            file = _static_file(url)
            content_type = _MIME.get(file.suffix, "text/plain")
            return URLFetcherResponse(
                url, body=file.read_bytes(), headers={"Content-Type": content_type}
            )

    return StaticOnlyFetcher(fail_on_errors=False)


def render_pdf(html: str) -> bytes:
    """The PDF of a page of HTML (its links to /static/ resolved locally)."""
    from weasyprint import HTML  # imported here: loading pango costs ~0.3 s

    base_url = f"file://{settings.BASE_DIR}/"
    return bytes(HTML(string=html, base_url=base_url, url_fetcher=_fetcher()).write_pdf())


def pdf_response(html: str, *, filename: str) -> HttpResponse:
    """A download of the page as `<filename>.pdf`."""
    response = HttpResponse(render_pdf(html), content_type="application/pdf")
    safe = slugify(filename) or "document"
    response["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
    return response
