"""Templates → PDF with WeasyPrint, the font and style sheet prepared once per process.

A :class:`Renderer` is built once (it parses the style sheet and loads the cached subset
font, ``fonts.py``) and renders any number of documents: one document as one PDF, or many
documents of one template as one PDF of many pages (a class's proofs). Rendering is CPU work:
call it from a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from components.documents import fonts

TEMPLATES = Path(__file__).parent / "templates"


# The QR code's data mask. segno (like the standard's reference encoder) otherwise tries all
# eight masks and keeps the one with the lowest penalty score: pure Python, ~20 ms of a
# certificate's ~75 ms. A statement is a base64url JWS, high-entropy data for which the eight
# masks score alike; every reader decodes any mask (it is named in the format information).
QR_MASK = 4


def qr_data_uri(text: str) -> str:
    """A QR code (error correction M) of ``text`` as a PNG data URI for an ``<img>``, one
    pixel per module: the page scales it up without smoothing (``image-rendering:
    pixelated``), so it prints as sharp as a vector drawing at a fraction of SVG paths'
    layout cost and of a scaled bitmap's encoding cost (decision 0037)."""
    import segno  # with Pillow, ~8 MB resident: loaded with the first document (idle memory)

    buffer = io.BytesIO()
    qr = segno.make(text, error="m", micro=False, mask=QR_MASK)
    qr.save(buffer, kind="png", scale=1, border=0)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def with_qr(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """``document`` with its footer's QR code drawn from its statement, if it has one and no
    QR yet: drawn where the page is rendered (a worker process for a large batch), not where
    it is issued (the request's event loop)."""
    footer = document.get("footer")
    if not footer or footer.get("qr") or not footer.get("statement"):
        return document
    return {**document, "footer": {**footer, "qr": qr_data_uri(footer["statement"])}}


class Renderer:
    """Renders the document templates in ``templates/`` to PDF bytes."""

    def __init__(self, font_dir: Path | None = None) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.font_path = fonts.subset_font(font_dir)
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )
        self._font_config = FontConfiguration()
        families = ", ".join(f'"{name}"' for name in (fonts.FAMILY, *fonts.FALLBACK_FAMILIES))
        face = (
            f'@font-face {{ font-family: "{fonts.FAMILY}"; '
            f"src: url({self.font_path.as_uri()}); }}\n"
            f":root {{ --xueji-fonts: {families}; }}\n"
            f"html {{ font-family: {families}; }}\n"
        )
        sheet = (TEMPLATES / "documents.css").read_text(encoding="utf-8")
        self._css = CSS(string=face + sheet, font_config=self._font_config)
        self._lock = threading.Lock()  # WeasyPrint's font configuration is not thread-safe

    def html(self, template: str, documents: Sequence[Mapping[str, Any]]) -> str:
        """The HTML of ``documents`` (each a context of ``template``), one sheet each."""
        page = self.environment.get_template("page.html")
        documents = [with_qr(document) for document in documents]
        return page.render(template=template, documents=documents, title=template)

    def render(self, template: str, documents: Sequence[Mapping[str, Any]]) -> bytes:
        """One PDF holding ``documents`` in order, each starting on a new page."""
        from weasyprint import HTML

        source = self.html(template, documents)
        with self._lock:
            document = HTML(string=source, base_url=str(TEMPLATES)).render(
                stylesheets=[self._css], font_config=self._font_config
            )
            pdf: bytes = document.write_pdf()
        return pdf


# --- batches over several processes -------------------------------------------------------

# Below this many documents one process renders the batch; above it the batch is cut into
# one chunk per core, rendered in worker processes, and the PDFs are concatenated (pypdf).
PARALLEL_FROM = 40
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _render_chunk(template: str, documents: Sequence[Mapping[str, Any]]) -> bytes:
    return renderer().render(template, documents)


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _process_pool() -> ProcessPoolExecutor:
    """Worker processes (spawned: never a fork of a process running an event loop), each
    with its own renderer, kept for the life of the process."""
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(_workers(), mp_context=context)
        return _pool


def render_batch(template: str, documents: Sequence[Mapping[str, Any]]) -> bytes:
    """One PDF of ``documents`` like :meth:`Renderer.render`, using every core for large
    batches (a page costs ~50 ms of CPU: 500 pages are ~25 s on one core)."""
    workers = _workers()
    if len(documents) < PARALLEL_FROM or workers == 1:
        return renderer().render(template, documents)
    size = -(-len(documents) // workers)
    chunks = [list(documents[i : i + size]) for i in range(0, len(documents), size)]
    pool = _process_pool()
    parts = list(pool.map(_render_chunk, [template] * len(chunks), chunks))
    return concatenate(parts)


def _render_one(template: str, document: Mapping[str, Any]) -> bytes:
    return renderer().render(template, [document])


def render_each(template: str, documents: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """One PDF per document (a zip of a class), in order, on every core for large batches."""
    workers = _workers()
    if len(documents) < PARALLEL_FROM or workers == 1:
        return [renderer().render(template, [document]) for document in documents]
    chunksize = max(1, len(documents) // (workers * 4))
    pool = _process_pool()
    return list(pool.map(_render_one, [template] * len(documents), documents, chunksize=chunksize))


def concatenate(parts: Sequence[bytes]) -> bytes:
    """The pages of ``parts``, in order, as one PDF."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_shared: Renderer | None = None
_shared_lock = threading.Lock()


def renderer() -> Renderer:
    """The process's renderer, built on first use (the font cache may be built then)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Renderer()
        return _shared
