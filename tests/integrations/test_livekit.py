"""Real LiveKit ``AgentSession``s, offline: scripted plugins produce what real plugins produce
(speech events, chat chunks, audio, usage, errors), and ``attach`` turns the session's events
into callhook's events (SPEC §2-3)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip(
    "livekit.agents", reason="livekit-agents is not installed: pip install 'callhook[livekit]'"
)

from livekit.agents import Agent
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import CloseEvent, CloseReason

from callhook.engine import ListSink
from callhook.integrations.livekit import CallhookAgent, LiveKitCall, attach, new_call
from callhook.integrations.livekit.offline import Reply, ScriptedTTS, UserTurn, offline_session
from tests.integrations.calls import (
    CONFIG,
    PRICES,
    assert_full_histories,
    assistant,
    of_type,
    params,
    shape_problems,
    wire,
)

TOLERANCE_MS = 20
#: How late the scripted plugins' sleeps (and LiveKit's handling) may run on a busy machine.
SCRIPT_SLACK_MS = 150
# LiveKit measures no VAD silence (this session has no VAD; with one, ChatMessage.metrics still
# carries none), so user messages have no stt.vadMs; every other published key is there.
MISSING_VAD = "conversation-update: $.message.messages[].metrics.stt: extra [], missing ['vadMs']"


def test_the_adapter_exports_are_exact() -> None:
    import callhook.integrations.livekit as adapter
    import callhook.integrations.livekit.offline as offline

    assert adapter.__all__ == ["CallhookAgent", "LiveKitCall", "attach", "new_call"]
    assert offline.__all__ == [
        "SAMPLE_RATE",
        "Microphone",
        "Reply",
        "ScriptedLLM",
        "ScriptedSTT",
        "ScriptedTTS",
        "Speaker",
        "Transcript",
        "UserTurn",
        "offline_session",
    ]


async def run_call(
    turns: Sequence[UserTurn],
    replies: Sequence[Reply],
    *,
    tts: ScriptedTTS | None = None,
    agent: type[Agent] = CallhookAgent,
    call_id: str = "WC-livekit-0001",
) -> tuple[list[dict[str, Any]], list[ChatMessage]]:
    """Run one session until the caller is done and close it; the emitted events as the
    wire carries them, and the chat messages LiveKit added."""
    sink = ListSink()
    session, caller, sync = offline_session(turns, replies, tts_=tts)
    items: list[ChatMessage] = []
    session.on(
        "conversation_item_added",
        lambda event: items.append(event.item) if isinstance(event.item, ChatMessage) else None,
    )
    call = attach(session, new_call(assistant(), params(call_id), sink=sink, config=CONFIG))
    await session.start(agent(instructions="You are the front desk of a clinic."))
    await asyncio.wait_for(caller.done.wait(), timeout=60)
    await session.aclose()
    await sync.aclose()
    await call.aclose()
    return wire(sink), items


def near(value: float, expected: float, tolerance: float = TOLERANCE_MS) -> bool:
    return abs(value - expected) <= tolerance


# -- a normal call -------------------------------------------------------------------------

NORMAL_TURNS = [
    UserTurn("Hello, I'd like to book a cleaning.", speech_ms=1200, stt_ms=180, confidence=0.91),
    UserTurn("Tuesday morning, please.", pause_ms=400, speech_ms=900, stt_ms=120, confidence=0.84),
]
NORMAL_REPLIES = [
    Reply("Sure. Which day works for you?", ttft_ms=450, input_tokens=120),
    Reply("Booked for Tuesday at nine.", ttft_ms=350, input_tokens=160),
]
NORMAL_TTS = {"ttfb_ms": 180.0, "ms_per_word": 250.0}
VOICE = ScriptedTTS(**NORMAL_TTS)


@pytest.fixture(scope="module")
def normal_call() -> tuple[list[dict[str, Any]], list[ChatMessage]]:
    return asyncio.run(run_call(NORMAL_TURNS, NORMAL_REPLIES, tts=VOICE))


def test_a_normal_call_emits_statuses_in_order_and_full_histories(
    normal_call: tuple[list[dict[str, Any]], list[ChatMessage]],
) -> None:
    emitted, _ = normal_call
    assert [(e["type"], e["call"]["status"]) for e in emitted] == [
        ("status-update", "initiated"),
        ("status-update", "ongoing"),
        ("conversation-update", "ongoing"),  # user-1
        ("conversation-update", "ongoing"),  # its answer
        ("conversation-update", "ongoing"),  # user-2
        ("conversation-update", "ongoing"),  # its answer
        ("status-update", "finished"),
        ("end-of-call-report", "finished"),
    ]
    assert_full_histories(emitted)
    assert shape_problems(emitted) == [MISSING_VAD]
    assert [(m["role"], m["text"]) for m in emitted[-1]["messages"]] == [
        ("user", NORMAL_TURNS[0].text),
        ("assistant", NORMAL_REPLIES[0].text),
        ("user", NORMAL_TURNS[1].text),
        ("assistant", NORMAL_REPLIES[1].text),
    ]


def test_messages_carry_the_scripted_timings(
    normal_call: tuple[list[dict[str, Any]], list[ChatMessage]],
) -> None:
    emitted, items = normal_call
    updates = of_type(emitted, "conversation-update")
    users = [u["messages"][-1] for u in updates if u["messages"][-1]["role"] == "user"]
    said = [m for m in items if m.role == "user"]
    for message, turn, item in zip(users, NORMAL_TURNS, said, strict=True):
        stt = message["metrics"]["stt"]
        assert stt["confidence"] == turn.confidence
        assert near(stt["durationMs"], turn.speech_ms), stt
        # LiveKit times the transcript when its own pipeline handles it: the scripted STT delay
        # plus that handling, which a loaded machine stretches; reported as LiveKit measured it.
        assert stt["relativeLatencyMs"] == round(item.metrics["transcription_delay"] * 1000)
        assert near(stt["relativeLatencyMs"], turn.stt_ms, SCRIPT_SLACK_MS), stt
    # the end-of-turn delay is LiveKit's own endpointing wait: reported as measured
    delays = [round(m.metrics["end_of_turn_delay"] * 1000) for m in items if m.role == "user"]
    assert [m["metrics"]["interactlyEOU"]["turnDetectionTimeMs"] for m in users] == delays
    answers = [u["messages"][-1] for u in updates if u["messages"][-1]["role"] == "assistant"]
    spoken = [m for m in items if m.role == "assistant"]
    for message, reply, item in zip(answers, NORMAL_REPLIES, spoken, strict=True):
        llm, tts = message["metrics"]["llm"], message["metrics"]["tts"]
        # as LiveKit measured them (its llm_node and tts_node), and the script
        assert near(llm["responseLatencyMs"], item.metrics["llm_node_ttft"] * 1000), llm
        assert tts["generationTimeMs"] == round(item.metrics["tts_node_ttfb"] * 1000)
        assert near(llm["responseLatencyMs"], reply.ttft_ms, SCRIPT_SLACK_MS), llm
        assert near(tts["generationTimeMs"], NORMAL_TTS["ttfb_ms"], SCRIPT_SLACK_MS), tts
        # TTS usage reports audio per sentence rounded to 10 ms frames
        assert near(tts["audioDurationMs"], len(reply.text.split()) * NORMAL_TTS["ms_per_word"])


def test_the_report_prices_the_usage_livekit_reported(
    normal_call: tuple[list[dict[str, Any]], list[ChatMessage]],
) -> None:
    emitted, _ = normal_call
    call = emitted[-1]["call"]
    assert call["callEndTriggerBy"] == "bot"  # the agent's code closed the session
    cost = call["cost"]
    input_tokens = sum(reply.input_tokens for reply in NORMAL_REPLIES)
    output_tokens = sum(len(reply.text.split(" ")) for reply in NORMAL_REPLIES)
    characters = sum(len(text) for text in VOICE.texts)  # what the TTS was asked to speak
    spoken = "".join(VOICE.texts).replace(" ", "")
    assert spoken == "".join(reply.text for reply in NORMAL_REPLIES).replace(" ", "")
    stt_seconds = sum((t.speech_ms + t.stt_ms) / 1000 for t in NORMAL_TURNS)
    assert (cost["inputTokensTotal"], cost["outputTokensTotal"]) == (input_tokens, output_tokens)
    assert cost["ttsGenCharsTotal"] == characters
    assert cost["llmVendorCost"] == pytest.approx(
        input_tokens * PRICES.llm_per_input_token["openai"]
        + output_tokens * PRICES.llm_per_output_token["openai"]
    )
    assert cost["sttVendorCost"] == pytest.approx(
        stt_seconds / 60 * PRICES.stt_per_minute["deepgram"]
    )
    parts = ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost")
    assert cost["totalCost"] == pytest.approx(sum(cost[key] for key in parts))
    stats = call["metrics"]["callStats"]
    assert stats["turns"] == {"user": 2, "bot": 2, "played": 2, "interrupted": 0, "skipped": 0}
    assert stats["llmStats"]["responseCount"] == 2


# -- barge-in, hang, errors ----------------------------------------------------------------


def test_a_barge_in_keeps_the_played_text_and_the_whole_reply() -> None:
    reply = "We are open from eight to five. On Saturdays we open at ten and close at two."
    turns = [
        UserTurn("What are your opening hours?"),
        UserTurn("And on Sundays?", barge_in_ms=2500),
    ]
    emitted, items = asyncio.run(run_call(turns, [Reply(reply), Reply("Closed on Sundays.")]))
    (interrupted,) = [m for m in items if m.interrupted]
    played = interrupted.text_content
    assert played and reply.startswith(played) and played != reply
    user = [
        u for u in of_type(emitted, "conversation-update") if u["messages"][-1]["role"] == "user"
    ]
    (skipped,) = user[1]["messages"][-1]["skippedAssistantMessages"]
    assert skipped["text"] == reply  # what the LLM generated (CallhookAgent)
    assert skipped["playedText"] == played  # what LiveKit says was played
    stats = emitted[-1]["call"]["metrics"]["callStats"]
    assert stats["turnsStats"]["bargeInCount"] == 1
    assert stats["turns"]["interrupted"] == 1


def test_without_callhook_agent_an_interrupted_reply_is_known_only_as_played() -> None:
    reply = "We are open from eight to five. On Saturdays we open at ten and close at two."
    turns = [
        UserTurn("What are your opening hours?"),
        UserTurn("And on Sundays?", barge_in_ms=2500),
    ]
    emitted, items = asyncio.run(
        run_call(turns, [Reply(reply), Reply("Closed on Sundays.")], agent=Agent)
    )
    (interrupted,) = [m for m in items if m.interrupted]
    user = [
        u for u in of_type(emitted, "conversation-update") if u["messages"][-1]["role"] == "user"
    ]
    (skipped,) = user[1]["messages"][-1]["skippedAssistantMessages"]
    assert skipped["text"] == skipped["playedText"] == interrupted.text_content


def test_a_stalled_llm_emits_one_hang_and_the_late_reply_says_how_long_it_waited() -> None:
    turns = [UserTurn("Can you check my booking?")]
    replies = [Reply("Yes, you are booked for Tuesday.", ttft_ms=6000)]
    emitted, _ = asyncio.run(run_call(turns, replies))
    assert shape_problems(emitted) == [MISSING_VAD]
    (hang,) = of_type(emitted, "hang")
    assert hang["hang"]["pendingMessageId"] == "user-1"
    assert hang["hang"]["stage"] == "llm"
    late = of_type(emitted, "conversation-update")[-1]["messages"][-1]
    assert late["text"] == replies[0].text
    metrics = late["metrics"]
    assert metrics["hang"]["waitedMs"] > 6000
    waited = metrics["llm"]["responseLatencyMs"] + metrics["interactlyPlayer"]["waitTimeMs"]
    assert near(metrics["hang"]["waitedMs"], waited, 2)
    assert emitted[-1]["call"]["metrics"]["callStats"]["llmStats"]["hangups"] == 1


def test_llm_and_stt_errors_become_error_events_with_provider_and_retryable() -> None:
    turns = [
        UserTurn("Hello?", stt_error=True),
        UserTurn("Hello, can you hear me?", after_reply=False, pause_ms=300),
    ]
    replies = [Reply("Yes, I can hear you.", fail_first=True)]
    emitted, _ = asyncio.run(run_call(turns, replies))
    assert shape_problems(emitted) == [MISSING_VAD]
    errors = [e["error"] for e in of_type(emitted, "error")]
    assert errors == [
        {
            "type": "stt_error",
            "code": "service_unreachable",
            "message": "the scripted STT lost its connection",
            "provider": "scripted",
            "retryable": True,
            "details": {},
        },
        {
            "type": "llm_error",
            "code": "rate_limit_exceeded",
            "message": "rate limit exceeded",
            "provider": "scripted",
            "retryable": True,
            "details": {},
        },
    ]
    assert [m["text"] for m in emitted[-1]["messages"]] == [
        "Hello, can you hear me?",
        "Yes, I can hear you.",
    ]


@pytest.mark.parametrize(
    ("reason", "ended_by"),
    [
        (CloseReason.PARTICIPANT_DISCONNECTED, "user"),
        (CloseReason.USER_INITIATED, "bot"),
        (CloseReason.TASK_COMPLETED, "bot"),
        (CloseReason.JOB_SHUTDOWN, "system"),
        (CloseReason.ERROR, "system"),
    ],
)
def test_each_close_reason_names_who_ended_the_call(reason: CloseReason, ended_by: str) -> None:
    async def scenario() -> list[dict[str, Any]]:
        sink = ListSink()
        session, _, _ = offline_session([], [])
        call: LiveKitCall = attach(session, new_call(assistant(), params("WC-x"), sink=sink))
        session.emit("close", CloseEvent(reason=reason))
        await call.aclose()
        return wire(sink)

    emitted = asyncio.run(scenario())
    assert emitted[-1]["type"] == "end-of-call-report"
    assert emitted[-1]["call"]["callEndTriggerBy"] == ended_by
