"""``export``: the receiver's calls to files, one per table, streaming page by page."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from callhook.export._writers import Format, TableWriter, open_writer
from callhook.store import EXPORT_TABLES, count_calls, export_pages, make_engine

__all__ = ["ExportResult", "count_calls", "export"]


@dataclass(slots=True)
class ExportResult:
    """The files written (table name → path) and how many rows each holds."""

    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.rows.get("calls", 0)


def export(
    database: str | Engine,
    folder: Path,
    *,
    form: Format = Format.JSONL,
    since: int | None = None,
    until: int | None = None,
    page: int = 200,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the calls first seen in ``[since, until)`` (epoch ms), their messages (with
    their metrics), hangs and errors to ``folder/<table>.<format>``.

    Memory stays bounded by one ``page`` of calls. ``progress(n)`` is called after each page
    with the number of calls it held. Raises ``FileExistsError`` rather than overwrite a file.
    """
    engine = make_engine(database) if isinstance(database, str) else database
    folder.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    paths = {name: folder / f"{name}.{form.value}" for name in EXPORT_TABLES}
    for path in paths.values():
        if path.exists():
            raise FileExistsError(f"{path} already exists: choose another --out folder")
    try:
        with contextlib.ExitStack() as stack:
            writers: dict[str, TableWriter] = {}
            for name, columns in EXPORT_TABLES.items():
                writer = open_writer(paths[name], columns, form)
                stack.callback(writer.close)
                writers[name] = writer
                result.files[name] = paths[name]
                result.rows[name] = 0
            for batch in export_pages(engine, since, until, page=page):
                for name, rows in batch.rows.items():
                    writers[name].write(rows)
                    result.rows[name] += len(rows)
                if progress is not None:
                    progress(batch.calls)
    finally:
        if isinstance(database, str):
            engine.dispose()
    return result
