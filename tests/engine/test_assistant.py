"""Placeholders, redaction and the per-event views of the assistant."""

from __future__ import annotations

import json

from callhook import events
from callhook.engine import REDACTED, render_variables
from callhook.engine._assistant import AssistantViews, redact
from callhook.events import UNSET, Assistant, AssistantServer, EventType
from tests.engine.helpers import make_assistant


def test_placeholders_are_filled_from_the_variables() -> None:
    text = "Today is {{date}}; serial {{ serial_number }}; count {{n}}."
    assert render_variables(text, {"date": "Monday", "serial_number": "42", "n": 3}) == (
        "Today is Monday; serial 42; count 3."
    )


def test_unknown_placeholders_stay_as_written() -> None:
    assert render_variables("Hi {{name}}!", {}) == "Hi {{name}}!"


def test_redaction_keeps_header_names_and_an_empty_secret() -> None:
    server = AssistantServer(secret="", headers={"Authorization": "x", "X-Team": "y"})
    redacted = redact(Assistant(assistant_server=server)).assistant_server
    assert redacted == AssistantServer(
        secret="", headers={"Authorization": REDACTED, "X-Team": REDACTED}
    )


def test_an_assistant_without_a_server_is_unchanged() -> None:
    assistant = Assistant(name="x")
    assert redact(assistant) is assistant


def test_each_event_type_gets_the_keys_published_captures_show() -> None:
    views = AssistantViews.build(make_assistant(), redact_secrets=True)
    report = views.for_event(EventType.END_OF_CALL_REPORT)
    assert report == Assistant(id="697769ef5e6d94d5ad83e01e", name="Mary Dental - main")
    update = views.for_event(EventType.CONVERSATION_UPDATE)
    assert update.welcome_message == "Welcome to {{clinic}}!!"
    assert update.assistant_system_prompt is UNSET
    assert views.for_event(EventType.STATUS_UPDATE) is views.full


def test_redaction_replaces_secrets_and_keeps_everything_else() -> None:
    body = (
        b'{"message": {"type": "status-update", "call": {"id": "WC-1"}, "assistant": '
        b'{"name": "x", "assistantServer": {"url": "https://h/e", "secret": "s", '
        b'"signingSecret": "whsec_abc", "headers": {"Authorization": "Bearer t"}}}}}'
    )
    assistant = events.decode(body).message.assistant
    assert isinstance(assistant, Assistant)
    envelope = events.Envelope(events.StatusUpdate(assistant=redact(assistant)))
    emitted = json.loads(events.encode(envelope))["message"]["assistant"]
    assert emitted == {
        "name": "x",
        "assistantServer": {
            "url": "https://h/e",
            "secret": REDACTED,
            "signingSecret": REDACTED,
            "headers": {"Authorization": REDACTED},
        },
    }
