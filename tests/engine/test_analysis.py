"""The offline analyzer: extractive summary, rubric evaluation, structured data, outcome."""

from __future__ import annotations

import asyncio

import pytest

from callhook.engine import AnalysisInput, OfflineAnalyzer
from callhook.engine._analysis import evaluate, sentences, summarize, transcript
from callhook.events import AnalysisTask, AssistantAnalysis, Message
from tests.engine.helpers import make_assistant


def _messages(*turns: tuple[str, str]) -> tuple[Message, ...]:
    return tuple(
        Message(message_id=f"m{i}", role=role, text=text, timestamp=i)
        for i, (role, text) in enumerate(turns)
    )


CONVERSATION = _messages(
    ("assistant", "Welcome to Apollo clinic!!"),
    ("user", "Hello."),
    ("user", "I want to book an appointment with Dr. Sam for next Monday."),
    ("assistant", "Sure. Could you tell me your full name?"),
    ("user", "My name is Ramesh Naik. My phone number is +1 770-625-8801."),
    ("assistant", "Thank you Ramesh, you are booked. Goodbye!"),
)


def _input(messages: tuple[Message, ...] = CONVERSATION, **changes: object) -> AnalysisInput:
    fields: dict[str, object] = {
        "call_id": "WC-1",
        "assistant": make_assistant(),
        "messages": messages,
        "system_prompt": "You book appointments.",
        "ended_by": "bot",
        "dynamic_variables": {"serial_number": "42"},
    }
    fields.update(changes)
    return AnalysisInput(**fields)  # type: ignore[arg-type]


def test_a_good_call_is_summarised_scored_extracted_and_concluded() -> None:
    analysis = asyncio.run(OfflineAnalyzer().analyze(_input()))
    assert analysis.summary == (
        'The user said "I want to book an appointment with Dr. Sam for next Monday" and '
        '"My phone number is +1 770-625-8801". '
        'The assistant last said "Thank you Ramesh, you are booked. Goodbye".'
    )
    assert analysis.success_evaluation == "Excellent"
    assert analysis.structured_data == {
        "Name": "Ramesh Naik",
        "phone number": "+17706258801",
        "serial_number": 42,
    }
    assert analysis.outcome == "Information collected"


def test_missing_fields_get_the_empty_value_of_their_type() -> None:
    analysis = asyncio.run(
        OfflineAnalyzer().analyze(_input(_messages(("user", "Hi.")), dynamic_variables={}))
    )
    assert analysis.structured_data == {"Name": "", "phone number": "", "serial_number": 0}
    assert analysis.outcome == "Information incomplete"
    assert analysis.success_evaluation == "Good"  # 1 - 0.4: nothing of the schema found


def test_hangs_and_errors_lower_the_evaluation() -> None:
    analysis = asyncio.run(
        OfflineAnalyzer().analyze(_input(hangs=2, error_codes=("rate_limit_exceeded",)))
    )
    assert analysis.success_evaluation == "Poor"  # 1 - 0.5 - 0.25


def test_a_failed_call_is_poor_with_its_outcome() -> None:
    analysis = asyncio.run(OfflineAnalyzer().analyze(_input((), failed=True, ended_by="system")))
    assert (analysis.summary, analysis.success_evaluation, analysis.outcome) == (
        "No conversation took place.",
        "Poor",
        "Call failed to start",
    )


def test_a_call_without_a_schema_names_who_ended_it() -> None:
    assistant = make_assistant(assistant_analysis=AssistantAnalysis())
    analysis = asyncio.run(OfflineAnalyzer().analyze(_input(assistant=assistant)))
    assert analysis.structured_data == {}
    assert analysis.outcome == "Call ended by the assistant after 3 user turns"


def test_disabled_tasks_give_empty_results() -> None:
    off = AnalysisTask(enabled=False)
    assistant = make_assistant(
        assistant_analysis=AssistantAnalysis(
            summary=off, success_evaluation=off, structured_data=off
        )
    )
    analysis = asyncio.run(OfflineAnalyzer().analyze(_input(assistant=assistant)))
    assert (analysis.summary, analysis.success_evaluation, analysis.structured_data) == (
        "",
        "",
        {},
    )


@pytest.mark.parametrize(
    ("rubric", "score", "expected"),
    [
        ("DescriptiveScale", 0.9, "Excellent"),
        ("DescriptiveScale", 0.6, "Good"),
        ("DescriptiveScale", 0.35, "Fair"),
        ("DescriptiveScale", 0.1, "Poor"),
        ("PassFail", 0.6, "true"),
        ("PassFail", 0.5, "false"),
        ("NumericScale", 0.74, "7"),
        ("NumericScale", 0.0, "1"),
    ],
)
def test_the_score_is_written_in_the_rubric_of_the_assistant(
    rubric: str, score: float, expected: str
) -> None:
    assert evaluate(score, AnalysisTask(rubric=rubric)) == expected


def test_the_summary_quotes_the_most_informative_user_sentences_in_order() -> None:
    messages = _messages(
        ("user", "Hi."),
        ("user", "I need a root canal appointment tomorrow morning."),
        ("user", "Also my insurance is Aetna."),
    )
    assert summarize(messages) == (
        'The user said "I need a root canal appointment tomorrow morning" and '
        '"Also my insurance is Aetna".'
    )


def test_sentences_are_not_cut_after_abbreviations() -> None:
    assert sentences("See Dr. Sam today. He is in! OK?") == [
        "See Dr. Sam today.",
        "He is in!",
        "OK?",
    ]


def test_the_transcript_has_one_line_per_spoken_message() -> None:
    assert transcript(CONVERSATION[:2]) == "Assistant: Welcome to Apollo clinic!!\nUser: Hello."
