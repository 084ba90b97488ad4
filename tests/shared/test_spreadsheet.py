"""The intake is read from its file as the rows are asked for, not loaded whole."""

import io

import pytest

from shared.spreadsheet import UnreadableFile, detect_format, read_table


class CountingFile(io.BytesIO):
    """A file that remembers the largest single read asked of it."""

    largest_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk

    def read1(self, size: int = -1, /) -> bytes:
        chunk = super().read1(size)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk


def test_a_large_csv_is_read_in_pieces_and_left_open() -> None:
    rows = "".join(f"学生{n},男,2019-05-01\n" for n in range(100_000))
    data = ("姓名,性别,出生日期\n" + rows).encode("utf-8")
    file = CountingFile(data)
    assert detect_format(file, "intake.csv") == "csv"
    table = read_table(file, "csv")
    assert next(table) == (1, ["姓名", "性别", "出生日期"])
    assert sum(1 for _ in table) == 100_000
    assert len(data) > 2_000_000
    assert file.largest_read <= 64 * 1024  # never the whole file at once
    assert not file.closed  # the request owns the file


def test_a_csv_that_stops_being_utf8_is_refused_where_it_does() -> None:
    good = "".join(f"学生{n},男\n" for n in range(20_000)).encode()  # ~300 KB of UTF-8
    data = "姓名,性别\n".encode() + good + "李四,女\n".encode("gbk")
    table = read_table(io.BytesIO(data), "csv")
    assert next(table) == (1, ["姓名", "性别"])
    assert next(table) == (2, ["学生0", "男"])  # read before the bad bytes were reached
    with pytest.raises(UnreadableFile, match="UTF-8"):
        for _ in table:
            pass
