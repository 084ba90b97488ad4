"""Reading an uploaded admission file: UTF-8 CSV (with or without BOM) or XLSX.

Only the first worksheet of a workbook is read, in openpyxl's read-only mode (streamed, so a
100,000-row workbook does not build a cell object graph). Rows come back with their number as
the registrar sees it in a spreadsheet program: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from openpyxl import load_workbook

from services.school.domain.admission_file import Cell

FileFormat = Literal["csv", "xlsx"]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc)
_CSV_SUFFIXES = (".csv", ".txt")


class UnreadableFile(ValueError):
    """Not a file we can read as a table; ``message`` tells the registrar what to upload."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def detect_format(data: bytes, filename: str | None) -> FileFormat:
    """XLSX by its zip signature, CSV by name (or no name) and UTF-8 text; else refuse."""
    name = (filename or "").lower()
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile("legacy .xls workbooks are not read: save as .xlsx or CSV (UTF-8)")
    if "." in name and not name.endswith(_CSV_SUFFIXES):
        raise UnreadableFile("upload a .csv (UTF-8) or .xlsx file")
    if b"\x00" in data[:4096]:
        raise UnreadableFile("this is not a text file: upload a .csv (UTF-8) or .xlsx file")
    return "csv"


def read_table(data: bytes, file_format: FileFormat) -> Iterator[tuple[int, Sequence[Cell]]]:
    """Yield ``(row number, cells)`` for every row, the header included."""
    if file_format == "xlsx":
        return _xlsx_rows(data)
    return _csv_rows(data)


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[Cell]]]:
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(
            "the CSV file is not UTF-8 (a GBK export?): save it as 'CSV UTF-8' and upload again"
        ) from None
    reader = csv.reader(io.StringIO(content, newline=""))
    return ((number, row) for number, row in enumerate(reader, start=1))


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[Cell]]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile(f"not a readable .xlsx workbook ({type(error).__name__})") from None
    return _sheet_rows(workbook)


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, Sequence[Cell]]]:
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()
