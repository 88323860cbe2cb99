"""What the calls list adds for the dashboard: listing facts and transcript search.

``listing_facts`` reads, per call row, the start, duration, number and type from the merged
call fields and the assistant's name, provider and model from the stored assistant object.

``redact_assistant`` hides the delivery secret and custom header values that a platform echoes
in ``assistant.assistantServer`` (SPEC §6), so they never reach the API or the dashboard.

``calls_with_text`` finds which recent calls have a message containing a text. Message
bodies are stored compressed (``_blob.py``), so SQL cannot look inside them; this scan
decompresses the messages of the newest ``SEARCH_SCAN_CALLS`` calls (by first event) and
matches the search text, case-insensitively, against each message's ``text`` and its skipped
(interrupted) responses' ``text``. The scan is bounded, so a search costs the same however large
the database grows; older calls are still found by call id, call fields or report (in SQL).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, func, select

from callhook.events import redact_server
from callhook.store._blob import unpack
from callhook.store._schema import assistants, calls, messages

__all__ = ["SEARCH_SCAN_CALLS", "calls_with_text", "listing_facts", "redact_assistant"]

Json = dict[str, Any]  # Any: JSON values

#: How many of the newest calls a transcript search reads.
SEARCH_SCAN_CALLS = 1000


class _Text(msgspec.Struct):
    text: object = None
    skippedAssistantMessages: object = None


_TEXT = msgspec.json.Decoder(_Text)


def _texts(body: bytes) -> list[str]:
    try:
        message = _TEXT.decode(body)
    except msgspec.DecodeError:
        return []
    found: list[object] = [message.text]
    if isinstance(message.skippedAssistantMessages, list):
        found += [s.get("text") for s in message.skippedAssistantMessages if isinstance(s, dict)]
    return [t for t in found if isinstance(t, str)]


def calls_with_text(
    conn: Connection, text: str, *, scan_calls: int = SEARCH_SCAN_CALLS
) -> set[int]:
    """Primary keys of the newest ``scan_calls`` calls that have a message containing ``text``."""
    needle = text.casefold()
    if not needle:
        return set()
    newest = (
        select(calls.c.pk)
        .order_by(func.coalesce(calls.c.first_ts, 0).desc(), calls.c.pk.desc())
        .limit(scan_calls)
        .subquery()
    )
    query = select(messages.c.call_pk, messages.c.body).where(
        messages.c.call_pk.in_(select(newest.c.pk))
    )
    found: set[int] = set()
    for row in conn.execute(query):
        if row.call_pk in found:
            continue
        if any(needle in t.casefold() for t in _texts(unpack(row.body))):
            found.add(row.call_pk)
    return found


class _Listed(msgspec.Struct):
    """The call and assistant keys a list row shows (everything else stays unparsed)."""

    startAt: Any = None  # Any: any JSON value, shown as sent
    assistantCallDuration: Any = None
    userNumber: Any = None
    callType: Any = None
    assistantProvider: Any = None
    assistantModel: Any = None


_LISTED = msgspec.json.Decoder(_Listed)


def _listed(text: str | None) -> _Listed:
    try:
        return _LISTED.decode(text) if text else _Listed()
    except msgspec.DecodeError:
        return _Listed()


def listing_facts(conn: Connection, rows: list[Any]) -> list[Json]:  # Any: calls rows
    """Per row, what the dashboard's list shows beside the summary: start, duration, number,
    call type, assistant name, provider and model."""
    digests = {r.assistant_digest for r in rows if r.assistant_digest is not None}
    found = {}
    if digests:
        query = select(assistants.c.digest, assistants.c.name, assistants.c.body)
        for a in conn.execute(query.where(assistants.c.digest.in_(digests))):
            found[a.digest] = (a.name, _listed(a.body))
    items = []
    for row in rows:
        fields = _listed(row.fields)
        name, assistant = found.get(row.assistant_digest, (None, _Listed()))
        items.append(
            {
                "startAt": fields.startAt,
                "durationMs": fields.assistantCallDuration,
                "userNumber": fields.userNumber,
                "callType": fields.callType,
                "assistantName": name,
                "provider": assistant.assistantProvider,
                "model": assistant.assistantModel,
            }
        )
    return items


_OBJECT = msgspec.json.Decoder(dict[str, Any])


def redact_assistant(text: str | None) -> msgspec.Raw | None:
    """The stored assistant JSON with the secrets of ``assistantServer`` replaced by
    ``REDACTED`` (``callhook.events.redact_server``; untouched when there are none)."""
    if text is None:
        return None
    if '"assistantServer"' not in text:
        return msgspec.Raw(text.encode())
    try:
        assistant = _OBJECT.decode(text)
    except msgspec.DecodeError:
        return msgspec.Raw(text.encode())
    server = assistant.get("assistantServer")
    if isinstance(server, dict):
        redact_server(server)
    return msgspec.Raw(msgspec.json.encode(assistant))
