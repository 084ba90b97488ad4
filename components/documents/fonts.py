"""The documents' CJK font: the system font pre-subset once to what documents print.

WeasyPrint embeds only the glyphs a PDF uses, but to find them it subsets the whole font file
for every PDF: ~1 s with WenQuanYi Micro Hei, ~5 s with Noto Sans CJK, whatever the page count.
Subsetting a font that holds GB 2312 (6,763 hanzi and its symbols) plus ASCII takes ~30 ms. So
the system font is cut down to that repertoire once, with fontTools (a WeasyPrint dependency),
and cached on disk under a name derived from the source font and the repertoire; every PDF
uses the cached font. A character outside it (a rare hanzi in a name) falls back to the full
system font through the CSS font list: correct, only slower for that document
(docs/decisions/0036-documents.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

# Debian's fonts-wqy-microhei; fonts-noto-cjk as a second choice (both in scripts/bootstrap.sh)
SOURCE_FONTS = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),  # index 2: SC
)
FALLBACK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC")
FAMILY = "Xueji Documents"
CACHE_ENV = "XUEJI_DOCUMENTS_FONT_DIR"
_REPERTOIRE_VERSION = "gb2312+ascii+1"
_lock = threading.Lock()


class FontMissing(RuntimeError):
    """No CJK source font is installed (scripts/bootstrap.sh installs them)."""


def gb2312() -> frozenset[str]:
    """Every character of GB 2312: rows 0xA1-0xA9 (symbols) and 0xB0-0xF7 (6,763 hanzi)."""
    found: set[str] = set()
    for high in (*range(0xA1, 0xAA), *range(0xB0, 0xF8)):
        for low in range(0xA1, 0xFF):
            try:
                found.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return frozenset(found)


@cache
def repertoire() -> frozenset[str]:
    """What the cached font holds: GB 2312, printable ASCII, CJK punctuation, full-width forms."""
    ascii_ = {chr(code) for code in range(0x20, 0x7F)}
    punctuation = {chr(code) for code in range(0x3000, 0x3040)}
    fullwidth = {chr(code) for code in range(0xFF01, 0xFF5F)}
    return gb2312() | ascii_ | punctuation | fullwidth | {"·", "—", "…", "※", "□", "✓"}


def source_font() -> tuple[Path, int]:
    for path, index in SOURCE_FONTS:
        if path.exists():
            return path, index
    raise FontMissing("no CJK font: install fonts-wqy-microhei or fonts-noto-cjk")


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xueji" / "fonts"


def subset_font(directory: Path | None = None) -> Path:
    """The cached subset font, built now if missing (a few seconds, once per machine)."""
    source, index = source_font()
    stat = source.stat()
    key = f"{source}:{index}:{stat.st_size}:{int(stat.st_mtime)}:{_REPERTOIRE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = (directory or cache_dir()) / f"xueji-documents-{digest}.ttf"
    with _lock:
        if not target.exists():
            _build(source, index, target)
    return target


def _build(source: Path, index: int, target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    log.info("subsetting %s to %d characters into %s", source, len(repertoire()), target)
    font = TTFont(source, fontNumber=index, lazy=False)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(char) for char in repertoire()])
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    font.save(partial)
    partial.replace(target)  # atomic: a concurrent reader never sees half a font


def missing_characters(text: str) -> set[str]:
    """Characters of ``text`` the cached font lacks (they come from the full system font)."""
    held = repertoire()
    return {char for char in text if char not in held and not char.isspace()}


if __name__ == "__main__":  # scripts/bootstrap.sh builds the cache once
    logging.basicConfig(level=logging.INFO)
    print(subset_font())
