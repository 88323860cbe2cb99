"""One writer per file format; each takes rows a page at a time and keeps none of them.

``json`` columns are nested values in JSON Lines and JSON text in CSV and Parquet (whose
readers then see plain strings); ``None`` is JSON ``null``, an empty CSV field, a Parquet null.
"""

from __future__ import annotations

import csv
import enum
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from callhook.store import ExportColumn

__all__ = ["Format", "TableWriter", "open_writer"]

Row = dict[str, Any]  # Any: column values of mixed types


class Format(enum.StrEnum):
    """``callhook export --format``."""

    #: One JSON object per line.
    JSONL = "jsonl"
    #: A header line, then one line per row (RFC 4180 quoting).
    CSV = "csv"
    #: Apache Parquet (needs ``pip install 'callhook[export]'``), one row group per page.
    PARQUET = "parquet"


class TableWriter(Protocol):
    def write(self, rows: list[Row]) -> None: ...

    def close(self) -> None: ...


def open_writer(path: Path, columns: tuple[ExportColumn, ...], form: Format) -> TableWriter:
    """A writer of ``columns`` rows to a new file at ``path``."""
    if form is Format.PARQUET:
        return _ParquetWriter(path, columns)
    if form is Format.CSV:
        return _CsvWriter(path, columns)
    return _JsonLinesWriter(path)


class _JsonLinesWriter:
    def __init__(self, path: Path) -> None:
        self._file = path.open("xb")
        self._encoder = msgspec.json.Encoder()

    def write(self, rows: list[Row]) -> None:
        buffer = bytearray()
        for row in rows:
            self._encoder.encode_into(row, buffer, len(buffer))
            buffer += b"\n"
        self._file.write(buffer)

    def close(self) -> None:
        self._file.close()


def _json_text(value: object) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


class _CsvWriter:
    def __init__(self, path: Path, columns: tuple[ExportColumn, ...]) -> None:
        self._file: IO[str] = path.open("x", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._columns = columns
        self._csv.writerow([c.name for c in columns])

    def write(self, rows: list[Row]) -> None:
        self._csv.writerows(
            [[self._cell(c, row.get(c.name)) for c in self._columns] for row in rows]
        )

    @staticmethod
    def _cell(column: ExportColumn, value: object) -> object:
        if value is None:
            return ""
        if column.type == "json":
            return _json_text(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    def close(self) -> None:
        self._file.close()


class _ParquetWriter:
    def __init__(self, path: Path, columns: tuple[ExportColumn, ...]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(
                "Parquet export needs pyarrow: pip install 'callhook[export]'"
            ) from None
        types = {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
            "json": pa.string(),
        }
        self._pa = pa
        self._json = [c.name for c in columns if c.type == "json"]
        self._schema = pa.schema([(c.name, types[c.type]) for c in columns])
        if path.exists():
            raise FileExistsError(f"{path} exists")
        self._writer = pq.ParquetWriter(str(path), self._schema)

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self._json:
            rows = [{**row, **{k: _json_text(row.get(k)) for k in self._json}} for row in rows]
        self._writer.write_batch(self._pa.RecordBatch.from_pylist(rows, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
