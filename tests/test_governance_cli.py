"""``callhook db purge | erase | erasures`` and ``callhook export``, on SQLite and PostgreSQL:
the commands remove every trace, and each export format reads back in its usual reader
with every message present."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from callhook.cli import app
from callhook.export import Format, export
from callhook.redaction import RedactionConfig, Redactor
from callhook.store import DAY_MS, Store, parse_event
from tests.calls import START
from tests.databases import database_url
from tests.governance import marked_events, scan

runner = CliRunner()
KEY = "cli-test-key-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def fill(url: str, calls: dict[str, tuple[str, int]], *, redact: bool = False) -> None:
    """Store each call (id → (number, received at)); through the redactor when asked."""
    redactor = Redactor(RedactionConfig(enabled=True, key=KEY)) if redact else None

    async def run() -> None:
        async with Store(url) as store:
            for call_id, (number, at) in calls.items():
                for body in marked_events(call_id, number=number, marker=f"M-{call_id}"):
                    data = redactor.body(body) if redactor else body
                    await store.ingest(parse_event(data, received_at=at))

    asyncio.run(run())


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_db_purge_before_a_date(db_url: str) -> None:
    fill(db_url, {"old-1": ("+1", START), "old-2": ("+1", START), "new": ("+1", START + DAY_MS)})
    cutoff = str(START + DAY_MS // 2)
    out = invoke("db", "purge", "--db", db_url, "--before", cutoff, "--batch", "1")
    assert out.startswith("OK    purged 2 calls (")
    assert scan(db_url, ["old-1", "old-2", "M-old"]) == []
    assert scan(db_url, ["M-new"]) != []


def test_db_purge_by_the_configured_retention(db_url: str, tmp_path: Path) -> None:
    fill(db_url, {"ancient": ("+1", START)})  # 2026: more than a few days before today
    config = tmp_path / "callhook.toml"
    config.write_text("[retention]\ncalls_days = 3\n")
    out = invoke("db", "purge", "--db", db_url, "--config", str(config))
    assert out.startswith("OK    purged 1 calls")
    assert scan(db_url, ["ancient"]) == []


def test_db_purge_without_a_horizon_says_how_to_give_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "purge", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"])
    assert result.exit_code == 1 and "give --before DATE" in result.output
    bad = runner.invoke(app, ["db", "purge", "--db", "sqlite:///x", "--before", "yesterday"])
    assert bad.exit_code == 1 and "--before 'yesterday' is not a date" in bad.output


def test_db_erase_a_call_and_list_the_audit(db_url: str) -> None:
    fill(db_url, {"c-1": ("+14155550101", START), "c-2": ("+14155550102", START)})
    out = invoke("db", "erase", "--db", db_url, "--call", "c-1", "--reference", "DSR-9")
    assert out.startswith("OK    erased 1 calls (") and "messages 6" in out
    assert scan(db_url, ["c-1", "M-c-1", "+14155550101"]) == []
    listed = invoke("db", "erasures", "--db", db_url)
    assert "call" in listed and "by cli" in listed and "ref DSR-9" in listed
    assert "c-1" not in listed


def test_db_erase_a_hashed_caller_by_their_number(db_url: str, tmp_path: Path) -> None:
    """With numbers hashed at the door, the number as the caller gives it (any format)
    finds their calls through the configured key."""
    fill(db_url, {"h-1": ("+14155550101", START), "h-2": ("+14155550101", START)}, redact=True)
    fill(db_url, {"h-3": ("+14155550102", START)}, redact=True)
    config = tmp_path / "callhook.toml"
    config.write_text(f'[redaction]\nenabled = true\nkey = "{KEY}"\n')
    out = invoke(
        "db", "erase", "--db", db_url, "--config", str(config), "--user-number", "(415) 555-0101"
    )
    assert out.startswith("OK    erased 2 calls")
    assert scan(db_url, ["h-1", "h-2", "M-h-1", "M-h-2"]) == []
    assert scan(db_url, ["h-3"]) != []


def test_db_erase_needs_one_subject(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "erase", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"])
    assert result.exit_code == 2 and "either --call" in result.output


# -- export ------------------------------------------------------------------------------------


def exported(db_url: str, tmp_path: Path, form: str, *extra: str) -> Path:
    out = tmp_path / f"export-{form}"
    lines = invoke("export", "--db", db_url, "--out", str(out), "--format", form, *extra)
    assert [line.split()[1] for line in lines.splitlines()] == [
        str(out / f"{table}.{form}") for table in ("calls", "messages", "hangs", "errors")
    ]
    return out


@pytest.fixture
def filled(db_url: str) -> str:
    fill(db_url, {f"e-{n}": (f"+1415555{n:04d}", START) for n in range(30)})
    return db_url


def test_export_jsonl_reads_back_with_every_message(filled: str, tmp_path: Path) -> None:
    out = exported(filled, tmp_path, "jsonl")
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    messages = [json.loads(line) for line in (out / "messages.jsonl").read_text().splitlines()]
    assert sorted(c["callId"] for c in calls) == sorted(f"e-{n}" for n in range(30))
    assert len(messages) == 30 * 6
    first = next(m for m in messages if m["callId"] == "e-7" and m["messageId"] == "user-1")
    assert first["text"] == "question 1 M-e-7" and first["sttConfidence"] == 0.9
    assert first["metrics"]["stt"]["durationMs"] == 1200
    assert calls[0]["call"]["userNumber"].startswith("+1415555") and calls[0]["totalCost"] == 0.12
    assert len((out / "hangs.jsonl").read_text().splitlines()) == 30


def test_export_csv_reads_back_with_every_message(filled: str, tmp_path: Path) -> None:
    out = exported(filled, tmp_path, "csv")
    with (out / "messages.csv").open(newline="") as file:
        messages = list(csv.DictReader(file))
    with (out / "errors.csv").open(newline="") as file:
        errors = list(csv.DictReader(file))
    assert len(messages) == 30 * 6
    assert {m["text"] for m in messages if m["callId"] == "e-3"} >= {"Welcome! M-e-3"}
    assert json.loads(messages[1]["metrics"])["stt"]["confidence"] == 0.9
    assert len(errors) == 30 and errors[0]["retryable"] == "true"


def test_export_parquet_reads_back_with_every_message(filled: str, tmp_path: Path) -> None:
    out = exported(filled, tmp_path, "parquet")
    messages = pq.read_table(out / "messages.parquet")
    calls = pq.read_table(out / "calls.parquet")
    assert messages.num_rows == 30 * 6 and calls.num_rows == 30
    rows = messages.to_pylist()
    assert {(r["callId"], r["messageId"]) for r in rows} == {
        (f"e-{n}", m) for n in range(30) for m in {r["messageId"] for r in rows}
    }
    assert calls.schema.field("messageCount").type == "int64"


def test_export_reports_progress_page_by_page(filled: str, tmp_path: Path) -> None:
    pages: list[int] = []
    result = export(filled, tmp_path / "out", form=Format.CSV, page=7, progress=pages.append)
    assert pages == [7, 7, 7, 7, 2] and result.calls == 30
    assert result.rows["messages"] == 180


def test_export_window_and_refusals(filled: str, tmp_path: Path) -> None:
    later = exported(filled, tmp_path, "jsonl", "--since", str(START + 1))
    assert (later / "calls.jsonl").read_text() == ""
    again = runner.invoke(app, ["export", "--db", filled, "--out", str(later)])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(app, ["export", "--db", filled, "--out", str(tmp_path), "--format", "xml"])
    assert bad.exit_code == 1 and "use jsonl, csv or parquet" in bad.output
