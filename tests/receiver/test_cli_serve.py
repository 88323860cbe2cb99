"""``callhook serve`` and ``callhook db upgrade`` (the thin CLI over the receiver and store)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from callhook.cli import app
from callhook.store import head_revision

runner = CliRunner()


def test_serve_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--db", db], env={})
    assert result.exit_code == 2
    assert "Refusing to listen on 0.0.0.0 without authentication" in result.output
    assert "CALLHOOK_WEBHOOK_SECRET" in result.output
    assert not (tmp_path / "x.sqlite3").exists()


def test_serve_refuses_a_public_address_without_an_api_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    env = {"CALLHOOK_WEBHOOK_SECRET": "s3cret"}
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--db", db], env=env)
    assert result.exit_code == 2
    assert "Refusing to listen on 0.0.0.0 without an API token" in result.output
    assert "CALLHOOK_API_TOKEN" in result.output
    assert not (tmp_path / "x.sqlite3").exists()


def test_db_upgrade_migrates(db_url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert f"OK    database at revision {head_revision()}" in result.output
    again = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert again.exit_code == 0


def test_db_upgrade_reports_a_bad_url() -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db", "mysql://x/y"])
    assert result.exit_code == 1
    assert "Unsupported database 'mysql'" in result.output


def test_serve_reports_an_unusable_database() -> None:
    result = runner.invoke(app, ["serve", "--db", "mysql://x/y"], env={})
    assert result.exit_code == 1
    assert "Unsupported database 'mysql'" in result.output
