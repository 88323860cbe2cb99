"""``callhook demo`` on a terminal (a pseudo-terminal here) and into a pipe: a live status line
and short alert lines for a person, structured lines (JSON or logfmt) for a log collector."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from callhook._logging import (
    PRETTY_MAX,
    JsonFormatter,
    LogfmtFormatter,
    PrettyFormatter,
    pretty_alert,
)

DEMO = ["-m", "callhook", "demo", "--calls", "4", "--speed", "20", "--seed", "0"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ALERT = re.compile(r"^\d\d:\d\d:\d\d (WARNING|CRITICAL|INFO|resolved) ")
ALERT_ID = re.compile(r"[0-9a-f]{8}-\d+\b|\bid=")
LOGFMT = re.compile(r'^(?:[a-z_]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$))+$')


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(tmp_path: Path, *extra: str) -> list[str]:
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    return [sys.executable, *DEMO, "--port", str(_port()), "--db", db, *extra]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}


def test_demo_on_a_terminal_shows_a_status_line_and_short_alert_lines(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    process = subprocess.Popen(
        _command(tmp_path),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**_env(), "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the demo ended
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(master)
    assert process.returncode == 0, output[-2000:]
    text = ANSI.sub("", output.decode("utf-8", "replace"))
    lines = [line for line in re.split(r"[\r\n]+", text) if line.strip()]
    assert any("calls live" in line and "events/s" in line for line in lines), lines[-20:]
    alerts = [line for line in lines if ALERT.match(line)]
    assert alerts, lines
    assert all(len(line) <= PRETTY_MAX for line in alerts), max(alerts, key=len)
    assert not [line for line in lines if ALERT_ID.search(line)]  # no internal ids
    assert not [line for line in lines if line.lstrip().startswith("{")]  # no JSON here


@pytest.mark.parametrize("log_format", ["auto", "logfmt"])
def test_demo_into_a_pipe_writes_structured_lines(tmp_path: Path, log_format: str) -> None:
    result = subprocess.run(
        _command(tmp_path, "--log-format", log_format),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    lines = [line for line in result.stdout.decode().splitlines() if line.strip()]
    if log_format == "auto":  # not a terminal: JSON
        records = [json.loads(line) for line in lines]  # every line parses
        alerts = [r for r in records if r["event"] == "monitor.alert"]
        assert alerts and all(r["rule"] and r["severity"] and r["alert_id"] for r in alerts)
        assert any(r["event"] == "demo.progress" and r["calls"] == 4 for r in records)
    else:
        bad = [line for line in lines if not LOGFMT.match(line)]
        assert not bad, bad[:3]
        assert any("event=monitor.alert" in line and "rule=" in line for line in lines)


def _record(message: str, fields: dict[str, object] | None = None) -> logging.LogRecord:
    record = logging.LogRecord("callhook.monitor", logging.WARNING, __file__, 1, message, (), None)
    if fields is not None:
        record.fields = fields
    return record


ALERT_FIELDS = {
    "kind": "firing",
    "rule": "hang",
    "scope": "call=C1/user-1",
    "severity": "warning",
    "summary": "call C1 hung on user-1 after 5006 ms " + "and then some " * 20,
    "alert_id": "hang:call=C1/user-1:1796188297190:792af398-1",
}


def test_the_formats_of_one_alert() -> None:
    record = _record("monitor.alert kind=firing rule=hang: call C1 hung", ALERT_FIELDS)
    pretty = PrettyFormatter().format(record)
    assert len(pretty) == PRETTY_MAX and pretty.endswith("…")
    assert " WARNING hang call C1 hung on user-1 after 5006 ms" in pretty
    assert "792af398" not in pretty
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["event"] == "monitor.alert" and parsed["alert_id"] == ALERT_FIELDS["alert_id"]
    assert parsed["level"] == "warning" and parsed["logger"] == "callhook.monitor"
    line = LogfmtFormatter().format(record)
    assert LOGFMT.match(line) and "event=monitor.alert" in line and 'summary="call C1' in line
    resolved = pretty_alert({**ALERT_FIELDS, "kind": "resolved", "summary": "done"}, "12:00:00")
    assert resolved == "12:00:00 resolved hang done"


def test_a_bad_log_format_in_the_config_is_refused() -> None:
    from callhook._exceptions import ConfigError
    from callhook.receiver import ReceiverConfig

    with pytest.raises(ConfigError, match="log_format must be one of"):
        ReceiverConfig(log_format="xml").check()


def test_a_plain_record_in_the_pretty_format_keeps_its_event_name() -> None:
    record = logging.LogRecord(
        "callhook.receiver", logging.INFO, __file__, 1, "receiver.serving %s", ("h:1",), None
    )
    assert PrettyFormatter().format(record).endswith(" info receiver.serving h:1")
