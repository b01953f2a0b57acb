"""Printable pages become PDFs without touching the network."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chairtime.core.pdf import RefusedResource, _fetcher, pdf_response, render_pdf


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
