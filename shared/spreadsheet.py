"""Reading an uploaded sheet: UTF-8 CSV (with or without BOM) or XLSX. One reader for the
school's admission files and the province's archive sheets.

The file is read from a binary file object as it is needed, never whole into memory (the
upload stays in the request's spooled temporary file, on disk past 1 MiB). Only the first
worksheet of a workbook is read, in openpyxl's read-only mode (streamed, so a 100,000-row
workbook does not build a cell object graph). Rows come back with their number as the
registrar sees it in a spreadsheet program: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from typing import IO, Any, Literal

Cell = str | int | float | bool | date | datetime | time | None

FileFormat = Literal["csv", "xlsx"]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc)
_CSV_SUFFIXES = (".csv", ".txt")


class UnreadableFile(ValueError):
    """Not a file we can read as a table; ``message`` tells the registrar what to upload."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def detect_format(file: IO[bytes], filename: str | None) -> FileFormat:
    """XLSX by its zip signature, CSV by name (or no name) and UTF-8 text; else refuse.

    Reads the file's first 4 KiB and leaves it at its start."""
    file.seek(0)
    data = file.read(4096)
    file.seek(0)
    name = (filename or "").lower()
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile("legacy .xls workbooks are not read: save as .xlsx or CSV (UTF-8)")
    if "." in name and not name.endswith(_CSV_SUFFIXES):
        raise UnreadableFile("upload a .csv (UTF-8) or .xlsx file")
    if b"\x00" in data:
        raise UnreadableFile("this is not a text file: upload a .csv (UTF-8) or .xlsx file")
    return "csv"


def read_table(file: IO[bytes], file_format: FileFormat) -> Iterator[tuple[int, Sequence[Cell]]]:
    """Yield ``(row number, cells)`` for every row, the header included, reading ``file`` as
    the rows are asked for (a CSV that turns out not to be UTF-8 raises
    :class:`UnreadableFile` at the row where it does)."""
    file.seek(0)
    if file_format == "xlsx":
        return _xlsx_rows(file)
    return _csv_rows(file)


def _csv_rows(file: IO[bytes]) -> Iterator[tuple[int, Sequence[Cell]]]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from enumerate(csv.reader(text), start=1)
    except UnicodeDecodeError:
        raise UnreadableFile(
            "the CSV file is not UTF-8 (a GBK export?): save it as 'CSV UTF-8' and upload again"
        ) from None
    finally:
        if not text.closed:  # a generator dropped after the request closed the file
            text.detach()  # the request owns the file: leave it open


def _xlsx_rows(file: IO[bytes]) -> Iterator[tuple[int, Sequence[Cell]]]:
    from openpyxl import load_workbook  # ~10 MB resident: loaded with the first workbook

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile(f"not a readable .xlsx workbook ({type(error).__name__})") from None
    return _sheet_rows(workbook)


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, Sequence[Cell]]]:
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()
