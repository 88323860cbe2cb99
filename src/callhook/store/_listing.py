"""What the calls list adds for the dashboard: listing facts and transcript search.

``listing_facts`` reads, per call row, the start, duration, number and type from the merged
call fields and the assistant's name, provider and model from the stored assistant object
(or, where it names neither, from the ``metrics.llm`` of the call's first assistant messages).

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
from sqlalchemy import Connection, func, not_, select

from callhook.events import redact_server
from callhook.store._blob import unpack
from callhook.store._schema import assistants, calls, messages

__all__ = [
    "DEFAULT_PLATFORM",
    "LLM_SCAN_MESSAGES",
    "SEARCH_SCAN_CALLS",
    "assistant_model",
    "calls_with_text",
    "listing_facts",
    "redact_assistant",
]

#: The platform of a call whose events name none: callhook's own (Interactly's) shape.
DEFAULT_PLATFORM = "interactly"

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
    platform: Any = None
    assistantProvider: Any = None
    assistantModel: Any = None
    # A model configuration object ({"provider", "model"}), as other platforms send it.
    model: Any = None


_LISTED = msgspec.json.Decoder(_Listed)


def _listed(text: str | None) -> _Listed:
    try:
        return _LISTED.decode(text) if text else _Listed()
    except msgspec.DecodeError:
        return _Listed()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def assistant_model(
    provider: object, model: object, config: object
) -> tuple[str | None, str | None]:
    """Provider and model of an assistant: ``assistantProvider`` / ``assistantModel``, else
    its model configuration object's ``provider`` / ``model``."""
    nested = config if isinstance(config, dict) else {}
    return (
        _text(provider) or _text(nested.get("provider")),
        _text(model) or _text(nested.get("model")),
    )


class _LlmFacts(msgspec.Struct):
    provider: Any = None  # Any: any JSON value; only strings count
    model: Any = None


class _LlmMetrics(msgspec.Struct):
    llm: _LlmFacts | None = None


class _LlmMessage(msgspec.Struct):
    metrics: _LlmMetrics | None = None


_LLM_MESSAGE = msgspec.json.Decoder(_LlmMessage)
#: How many assistant messages per call are read for ``metrics.llm`` provider / model.
LLM_SCAN_MESSAGES = 5


def _from_messages(
    conn: Connection, call_pks: set[int]
) -> dict[int, tuple[str | None, str | None]]:
    """Per call, the provider and model named by ``metrics.llm`` of its first assistant
    messages (welcome excluded; at most ``LLM_SCAN_MESSAGES`` read per call)."""
    position = (
        func.row_number().over(partition_by=messages.c.call_pk, order_by=messages.c.seq).label("n")
    )
    inner = (
        select(messages.c.call_pk, messages.c.body, position)
        .where(
            messages.c.call_pk.in_(call_pks),
            messages.c.role == "assistant",
            not_(messages.c.message_id.like("welcome%")),
        )
        .subquery()
    )
    query = select(inner.c.call_pk, inner.c.body).where(inner.c.n <= LLM_SCAN_MESSAGES)
    found: dict[int, tuple[str | None, str | None]] = {}
    for row in conn.execute(query.order_by(inner.c.call_pk, inner.c.n)):
        provider, model = found.get(row.call_pk, (None, None))
        if provider and model:
            continue
        try:
            llm = (_LLM_MESSAGE.decode(unpack(row.body)).metrics or _LlmMetrics()).llm
        except msgspec.DecodeError:
            continue
        if llm is not None:
            found[row.call_pk] = (provider or _text(llm.provider), model or _text(llm.model))
    return found


def listing_facts(conn: Connection, rows: list[Any]) -> list[Json]:  # Any: calls rows
    """Per row, what the dashboard's list shows beside the summary: start, duration, number,
    call type, assistant name, provider and model (``assistant_model``; where the assistant
    names neither, those of the call's messages' ``metrics.llm``)."""
    digests = {r.assistant_digest for r in rows if r.assistant_digest is not None}
    found = {}
    if digests:
        query = select(assistants.c.digest, assistants.c.name, assistants.c.body)
        for a in conn.execute(query.where(assistants.c.digest.in_(digests))):
            found[a.digest] = (a.name, _listed(a.body))
    named = {}
    for row in rows:
        _, assistant = found.get(row.assistant_digest, (None, _Listed()))
        named[row.pk] = assistant_model(
            assistant.assistantProvider, assistant.assistantModel, assistant.model
        )
    missing = {pk for pk, (provider, model) in named.items() if provider is None or model is None}
    measured = _from_messages(conn, missing) if missing else {}
    items = []
    for row in rows:
        fields = _listed(row.fields)
        name, _ = found.get(row.assistant_digest, (None, None))
        provider, model = named[row.pk]
        from_llm = measured.get(row.pk, (None, None))
        items.append(
            {
                "startAt": fields.startAt,
                "durationMs": fields.assistantCallDuration,
                "userNumber": fields.userNumber,
                "callType": fields.callType,
                "platform": fields.platform
                if isinstance(fields.platform, str)
                else DEFAULT_PLATFORM,
                "assistantName": name,
                "provider": provider or from_llm[0],
                "model": model or from_llm[1],
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
