"""Printable pages become PDFs without touching the network."""

from __future__ import annotations

import base64
import struct
import zlib
from types import SimpleNamespace

import pytest

from chairtime.core.pdf import (
    MAX_DATA_URL_LENGTH,
    RefusedResource,
    _fetcher,
    pdf_response,
    render_pdf,
)


def png(width: int = 40, height: int = 20) -> bytes:
    """A small black PNG, as a signature pad draws (but smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def data_url(image: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(image).decode()


def test_renders_a_pdf_with_vietnamese_and_chinese_text() -> None:
    html = (
        '<html lang="vi"><head><link rel="stylesheet" href="/static/css/app.css"></head>'
        "<body><h1>Kế hoạch điều trị · 治疗计划</h1><p>1.234.567 ₫</p></body></html>"
    )
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_serves_our_static_files_and_refuses_everything_else() -> None:
    fetch = _fetcher()
    stylesheet = fetch("file:///anywhere/static/css/app.css")
    assert stylesheet.content_type == "text/css"
    assert b"@media print" in stylesheet.read()
    for url in ("https://example.com/evil.css", "file:///etc/passwd",
                "file:///x/static/../../etc/passwd", "/static/missing.css"):  # fmt: skip
        with pytest.raises(RefusedResource):
            fetch(url)


def test_serves_an_inline_png_decoded_here_and_refuses_other_data_urls() -> None:
    fetch = _fetcher()
    image = png()

    served = fetch(data_url(image))

    assert (served.content_type, served.read()) == ("image/png", image)
    too_large = "data:image/png;base64," + "A" * MAX_DATA_URL_LENGTH
    for url in (data_url(b"<svg onload=alert(1)>", "image/svg+xml"),
                data_url(b"<p>hi</p>", "text/html"), data_url(b"GIF89a"),
                "data:image/png;base64,not base64!", "data:image/png,%89PNG", too_large):  # fmt: skip
        with pytest.raises(RefusedResource):
            fetch(url)


def test_a_pdf_carries_an_inline_png(caplog) -> None:
    html = f'<p>Signed</p><img class="signature" src="{data_url(png())}" alt="">'

    pdf = render_pdf(html)

    assert b"/Image" in pdf
    assert [r.getMessage() for r in caplog.records if "Failed to load" in r.getMessage()] == []


def test_serves_the_source_of_a_hashed_name_from_the_manifest(monkeypatch) -> None:
    # In production `{% static %}` links "css/app.<hash>.css"; the source file is read.
    manifest = SimpleNamespace(hashed_files={"css/app.css": "css/app.0123456789ab.css"})
    monkeypatch.setattr("chairtime.core.pdf.staticfiles_storage", manifest)

    stylesheet = _fetcher()("/static/css/app.0123456789ab.css")

    assert b"@media print" in stylesheet.read()


def test_pdf_response_is_an_inline_download_with_a_safe_name() -> None:
    response = pdf_response("<p>x</p>", filename="Invoice HN-000001/../x")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="invoice-hn-000001x.pdf"'
