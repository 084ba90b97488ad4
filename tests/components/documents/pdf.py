"""Reading a PDF back with poppler-utils (Debian's pdftotext, pdfinfo, pdffonts, pdftoppm)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

A4_POINTS = (595.28, 841.89)


def _run(*args: str, pdf: bytes) -> str:
    result = subprocess.run(args, input=pdf, capture_output=True, check=True, timeout=60)
    return result.stdout.decode("utf-8")


def text(pdf: bytes) -> str:
    """The PDF's text, laid out as on the page (``pdftotext -layout``)."""
    return _run("pdftotext", "-layout", "-", "-", pdf=pdf)


def lines(pdf: bytes) -> list[str]:
    """Each line of the page with its runs of spaces collapsed to one."""
    return [" ".join(line.split()) for line in text(pdf).splitlines() if line.strip()]


@dataclass(frozen=True)
class Info:
    pages: int
    size: tuple[float, float]

    @property
    def a4(self) -> bool:
        return all(abs(a - b) < 1 for a, b in zip(self.size, A4_POINTS, strict=True))


def info(pdf: bytes) -> Info:
    fields = dict(
        line.split(":", 1) for line in _run("pdfinfo", "-", pdf=pdf).splitlines() if ":" in line
    )
    width, _, height = fields["Page size"].split()[:3]
    return Info(int(fields["Pages"]), (float(width), float(height)))


@dataclass(frozen=True)
class Font:
    name: str
    embedded: bool
    unicode: bool


def fonts(pdf: bytes) -> list[Font]:
    """``pdffonts``: each font with its emb / uni columns (the last four columns are fixed)."""
    found = []
    for line in _run("pdffonts", "-", pdf=pdf).splitlines()[2:]:
        columns = line.split()
        embedded, _subset, uni = columns[-5:-2]
        found.append(Font(columns[0], embedded == "yes", uni == "yes"))
    return found


def raster(pdf: bytes, target: Path, resolution: int = 60) -> Path:
    """The first page as a PNG (``pdftoppm -r 60 -png -singlefile``) at ``target`` (.png)."""
    source = target.with_suffix(".pdf")
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(resolution),
            "-png",
            "-singlefile",
            "-f",
            "1",
            str(source),
            str(target.with_suffix("")),
        ],
        check=True,
        timeout=60,
    )
    return target.with_suffix(".png")
