"""How ``callhook serve`` and ``callhook demo`` write their log: for a person or for a collector.

``LogFormat.PRETTY`` (the default on a terminal): one short line per record, an alert as its
severity, rule and sentence (no internal ids), at most ``PRETTY_MAX`` characters.
``JSON`` (the default when the output is not a terminal) and ``LOGFMT``: one structured line
per record with ``ts``, ``level``, ``logger``, ``event`` (the stable event name that opens
callhook's messages, e.g. ``monitor.alert``), ``message`` and the record's ``fields`` (what a
log call passes as ``extra={"fields": {...}}``, e.g. every key of an alert).

Only the command line calls ``configure_logging``; the library never sets up logging.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import sys
import time
from typing import Any, TextIO

__all__ = ["PRETTY_MAX", "LogFormat", "configure_logging", "pretty_alert", "resolve_format"]

#: The longest line the pretty format writes.
PRETTY_MAX = 160
_EVENT = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?::?\s+|$)")


class LogFormat(enum.StrEnum):
    """What the log lines look like."""

    #: ``pretty`` on a terminal, ``json`` otherwise.
    AUTO = "auto"
    #: Short lines for a person at a terminal.
    PRETTY = "pretty"
    #: One JSON object per line.
    JSON = "json"
    #: One logfmt line (``key=value ...``) per line.
    LOGFMT = "logfmt"


def resolve_format(fmt: LogFormat | str, stream: TextIO | None = None) -> LogFormat:
    """``fmt``, with ``auto`` made ``pretty`` when ``stream`` (stderr) is a terminal."""
    chosen = LogFormat(fmt)
    if chosen is not LogFormat.AUTO:
        return chosen
    out = stream if stream is not None else sys.stderr
    return LogFormat.PRETTY if out.isatty() else LogFormat.JSON


def _split(record: logging.LogRecord) -> tuple[str | None, str]:
    message = record.getMessage()
    found = _EVENT.match(message)
    if found is None:
        return None, message
    return found[1], message[found.end() :]


def _fields(record: logging.LogRecord) -> dict[str, Any]:  # Any: JSON values
    fields = record.__dict__.get("fields")
    return dict(fields) if isinstance(fields, dict) else {}


def _timestamp(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        event, message = _split(record)
        line: dict[str, Any] = {  # Any: JSON values
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            "message": message,
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _logfmt_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and not re.search(r'[\s="\\]', text):
        return text
    return json.dumps(text, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record (values with spaces, ``=`` or quotes are quoted)."""

    def format(self, record: logging.LogRecord) -> str:
        event, message = _split(record)
        pairs: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if event:
            pairs["event"] = event
        pairs["msg"] = message
        pairs.update(_fields(record))
        if record.exc_info:
            pairs["exception"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs.items() if v is not None)


def _clip(text: str, width: int = PRETTY_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def pretty_alert(fields: dict[str, Any], clock: str = "") -> str:  # Any: JSON values
    """An alert notice as a person reads it: ``12:03:04 WARNING hang call C1 hung on user-1
    after 5006 ms`` (resolutions say ``resolved``); at most ``PRETTY_MAX`` characters."""
    kind = fields.get("kind")
    severity = str(fields.get("severity", "")).upper()
    head = "resolved" if kind == "resolved" else severity
    if kind == "escalated":
        head = f"{severity}↑"
    summary = str(fields.get("summary", ""))
    line = f"{clock} {head} {fields.get('rule', '')} {summary}".strip()
    return _clip(line)


class PrettyFormatter(logging.Formatter):
    """Short lines: the time, the level (or an alert's severity) and the message."""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = _fields(record)
        if fields.get("rule") and fields.get("kind"):
            return pretty_alert(fields, clock)
        event, message = _split(record)
        text = f"{event} {message}" if event else message
        return _clip(f"{clock} {record.levelname.lower():<8} {text}")


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (a live display may wrap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_FORMATTERS: dict[LogFormat, type[logging.Formatter]] = {
    LogFormat.PRETTY: PrettyFormatter,
    LogFormat.JSON: JsonFormatter,
    LogFormat.LOGFMT: LogfmtFormatter,
}


def configure_logging(fmt: LogFormat | str, level: str = "info") -> LogFormat:
    """Send every log record (callhook's and uvicorn's) to stderr in ``fmt`` (``auto``
    resolved against stderr); returns the format used."""
    chosen = resolve_format(fmt)
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(_FORMATTERS[chosen]())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Every request of the simulator's client and each migration step: only problems.
    quiet = list(_NOISY)
    if chosen is LogFormat.PRETTY:  # a person reads it: alerts and the server's own lines
        quiet += _NOISY_FOR_PEOPLE
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    return chosen


_NOISY = ("httpx", "httpcore", "alembic")
_NOISY_FOR_PEOPLE = ("callhook.engine", "callhook.store", "callhook.delivery", "callhook.sim")
