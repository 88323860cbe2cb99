"""The callhook command: validate, schema, --version and the command list."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from callhook import __version__
from callhook.cli import app
from tests.conftest import sample_files, sample_path

runner = CliRunner()


def test_validate_all_samples_ok() -> None:
    files = sample_files()
    result = runner.invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    assert all(line.startswith("OK ") for line in lines)


def test_validate_reports_type_call_and_count() -> None:
    path = sample_path("conversation-update.full.json")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.stdout == (
        f"OK    {path}: conversation-update, call WC-5b8e2d71-94c3-4f0a-b6d2-e13a7c90f458, "
        "5 messages\n"
    )


def test_validate_bad_file_exits_1_with_path(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"message": {"type": "hang", "call": {"id": "c"}}}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"message": {"type": "hang", "messages": [{"text": "hi"}]}}))
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"OK    {good}: hang, call c, 0 messages" in result.stdout
    assert (
        f"ERROR {bad}: Object missing required field `messageId` - at `$.message.messages[0]`"
        in result.stderr
    )
    assert "1 of 2 files invalid" in result.stderr


def test_validate_reads_stdin() -> None:
    body = json.dumps({"message": {"type": "error", "call": {"id": "WC-9"}, "messages": []}})
    result = runner.invoke(app, ["validate", "-"], input=body)
    assert result.exit_code == 0
    assert result.stdout == "OK    <stdin>: error, call WC-9, 0 messages\n"


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "cannot read the file (No such file or directory)" in result.stderr


def test_schema_prints_json_schema() -> None:
    result = runner.invoke(app, ["schema", "hang"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "callhook hang event"
    assert json.loads(runner.invoke(app, ["schema"]).stdout)["title"] == "callhook event"


def test_schema_unknown_type_says_the_choices() -> None:
    result = runner.invoke(app, ["schema", "bogus"])
    assert result.exit_code == 2
    assert "Unknown event type 'bogus'; use one of: status-update" in result.stderr


def test_version() -> None:
    assert runner.invoke(app, ["--version"]).stdout == f"callhook {__version__}\n"


def test_version_is_the_package_metadata_version() -> None:
    """The version lives in one place: the built metadata is read from ``__version__``."""
    assert importlib.metadata.version("callhook") == __version__


def test_console_entry_point_prints_the_version() -> None:
    """``python -m callhook`` goes through the same ``main`` as the ``callhook`` script."""
    done = subprocess.run(
        [sys.executable, "-m", "callhook", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"callhook {__version__}\n"


def test_help_lists_every_command_group() -> None:
    out = runner.invoke(app, ["--help"]).stdout
    for name in ("validate", "schema", "serve", "demo", "simulate", "db", "deliveries"):
        assert f" {name} " in out
