"""The session state's helpers (``_core``)."""

from __future__ import annotations

from callhook.engine._core import played_text
from tests.engine.helpers import make_assistant, make_session


def test_played_text_keeps_the_words_heard_in_proportion() -> None:
    text = "I can book you for Monday at nine."
    assert played_text(text, 0, 2000) == ""
    assert played_text(text, 1000, 2000) == "I can book you"  # "fo|r" was cut mid-word
    assert played_text(text, 1100, 2000) == "I can book you for"
    assert played_text(text, 2000, 2000) == text
    assert played_text(text, 500, 0) == ""


def test_the_platform_reads_the_assistant_with_variables_filled() -> None:
    session, _, _ = make_session(make_assistant(end_call_message="Bye from {{clinic}}."))
    assert session.status == "ongoing"
    assert session.end_call_message == "Bye from Apollo clinic."
    assert session.barge_in_enabled is True
    assert session.ending is False
