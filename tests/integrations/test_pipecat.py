"""Real Pipecat pipelines, offline: scripted services push the frames, metrics and errors real
services push, and ``CallhookObserver`` turns them into callhook's events (SPEC §2-3)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

pytest.importorskip(
    "pipecat", reason="pipecat-ai is not installed: pip install 'callhook[pipecat]'"
)

from pipecat.frames.frames import EndFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.utils.errors import ErrorCategory
from pipecat.workers.runner import WorkerRunner

from callhook.delivery import Dispatcher, RetryPolicy
from callhook.engine import EventSink, ListSink
from callhook.integrations.pipecat import CallhookObserver
from callhook.integrations.pipecat.offline import (
    Reply,
    ScriptedLLM,
    ScriptedTTS,
    ScriptedUser,
    Speaker,
    UserTurn,
    offline_pipeline,
)
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
from tests.integrations.stored import assert_stored_exactly

TOLERANCE_MS = 20
#: How late the scripted services' own sleeps may run on a busy machine.
SCRIPT_SLACK_MS = 150


def test_the_adapter_exports_are_exact() -> None:
    import callhook.integrations.pipecat as adapter
    import callhook.integrations.pipecat.offline as offline

    assert adapter.__all__ == ["CallhookObserver"]
    assert offline.__all__ == [
        "SAMPLE_RATE",
        "Reply",
        "ScriptedLLM",
        "ScriptedTTS",
        "ScriptedUser",
        "Speaker",
        "UserTurn",
        "offline_pipeline",
    ]


METRICS = PipelineParams(enable_metrics=True, enable_usage_metrics=True)


async def run_call(
    turns: Sequence[UserTurn],
    replies: Sequence[Reply],
    *,
    sink: EventSink | None = None,
    tts: ScriptedTTS | None = None,
    pipeline_params: PipelineParams = METRICS,
    welcome: str = "",
    server_url: str = "",
    call_id: str = "WC-pipecat-0001",
    during: Callable[[PipelineWorker, asyncio.Event], Awaitable[None]] | None = None,
    pipeline: Pipeline | None = None,
) -> tuple[list[dict[str, Any]], CallhookObserver]:
    """Run one pipeline to its end; the emitted events as the wire carries them.

    ``during`` runs beside the pipeline and gets an event set at the first assistant message.
    """
    listed = ListSink()
    answered = asyncio.Event()

    class Both:
        def emit(self, envelope: Any) -> None:
            listed.emit(envelope)
            messages = getattr(envelope.message, "messages", None) or []
            if messages and messages[-1].role == "assistant":
                answered.set()
            if sink is not None:
                sink.emit(envelope)

    observer = CallhookObserver(
        assistant(welcome=welcome, server_url=server_url),
        params(call_id),
        sink=Both(),
        config=CONFIG,
    )
    if pipeline is None:
        pipeline = offline_pipeline(turns, replies, tts=tts, after_welcome=bool(welcome))
    worker = PipelineWorker(
        pipeline,
        observers=[observer],
        params=pipeline_params,
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    if welcome:

        @worker.event_handler("on_pipeline_started")  # type: ignore[misc]
        async def speak_first(worker: PipelineWorker, frame: Any) -> None:
            await worker.queue_frame(TTSSpeakFrame(observer.session.welcome_message))

    runner = WorkerRunner()
    await runner.add_workers(worker)
    jobs = [runner.run()]
    if during is not None:
        jobs.append(during(worker, answered))
    await asyncio.wait_for(asyncio.gather(*jobs), timeout=90)
    return wire(listed), observer


def near(value: float, expected: float, tolerance: float = TOLERANCE_MS) -> bool:
    return abs(value - expected) <= tolerance


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.?!])\s+", text)


# -- a normal call -------------------------------------------------------------------------

NORMAL_TURNS = [
    UserTurn(
        "Hello, I'd like to book a cleaning.",
        speech_ms=1200,
        vad_start_ms=200,
        vad_stop_ms=300,
        stt_ms=180,
        confidence=0.91,
    ),
    UserTurn(
        "Tuesday morning, please.",
        pause_ms=400,
        speech_ms=900,
        vad_start_ms=150,
        vad_stop_ms=250,
        stt_ms=120,
        confidence=0.84,
    ),
]
NORMAL_REPLIES = [
    Reply("Sure. Which day works for you?", ttfb_ms=450, input_tokens=120),
    Reply("Booked for Tuesday at nine.", ttfb_ms=350, input_tokens=160),
]
NORMAL_TTS = {"ttfb_ms": 180.0, "ms_per_word": 250.0}


class NormalCall(NamedTuple):
    emitted: list[dict[str, Any]]
    observer: CallhookObserver
    user: ScriptedUser
    llm: ScriptedLLM
    tts: ScriptedTTS


@pytest.fixture(scope="module")
def normal_call() -> NormalCall:
    user = ScriptedUser(NORMAL_TURNS, after_welcome=True)
    llm, tts = ScriptedLLM(NORMAL_REPLIES), ScriptedTTS(**NORMAL_TTS)
    emitted, observer = asyncio.run(
        run_call(
            NORMAL_TURNS,
            NORMAL_REPLIES,
            welcome="Welcome to the clinic!",
            pipeline=Pipeline([user, llm, tts, Speaker()]),
        )
    )
    return NormalCall(emitted, observer, user, llm, tts)


def test_a_normal_call_emits_statuses_in_order_and_full_histories(
    normal_call: NormalCall,
) -> None:
    emitted, observer = normal_call.emitted, normal_call.observer
    assert [(e["type"], e["call"]["status"]) for e in emitted] == [
        ("status-update", "initiated"),
        ("status-update", "ongoing"),
        ("conversation-update", "ongoing"),  # welcome-1
        ("conversation-update", "ongoing"),  # user-1
        ("conversation-update", "ongoing"),  # its answer
        ("conversation-update", "ongoing"),  # user-2
        ("conversation-update", "ongoing"),  # its answer
        ("status-update", "finished"),
        ("end-of-call-report", "finished"),
    ]
    assert_full_histories(emitted)
    assert shape_problems(emitted) == []
    messages = emitted[-1]["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("assistant", "Welcome to the clinic!"),
        ("user", NORMAL_TURNS[0].text),
        ("assistant", NORMAL_REPLIES[0].text),
        ("user", NORMAL_TURNS[1].text),
        ("assistant", NORMAL_REPLIES[1].text),
    ]
    assert [m["messageId"] for m in messages][:2] == ["welcome-1", "user-1"]
    assert messages[2]["messageId"].startswith("user-1-")
    assert observer.warnings == []


def test_user_messages_carry_the_scripted_stt_and_turn_timings(
    normal_call: NormalCall,
) -> None:
    emitted = normal_call.emitted
    updates = of_type(emitted, "conversation-update")
    users = [u["messages"][-1] for u in updates if u["messages"][-1]["role"] == "user"]
    timings = normal_call.user.timings
    for message, turn, real in zip(users, NORMAL_TURNS, timings, strict=True):
        stt, eou = message["metrics"]["stt"], message["metrics"]["interactlyEOU"]
        assert stt["confidence"] == turn.confidence
        assert stt["vadMs"] == turn.vad_stop_ms
        assert near(stt["relativeLatencyMs"], real["stt_ms"]), (stt, real)
        assert near(stt["durationMs"], real["speech_ms"]), (stt, real)
        assert near(eou["turnDetectionTimeMs"], turn.vad_stop_ms + real["stt_ms"]), eou
        assert stt["timestampMs"] == message["timestamp"]
        # the script itself: its sleeps run late only on a busy machine
        assert near(real["stt_ms"], turn.stt_ms, SCRIPT_SLACK_MS), real
        assert near(real["speech_ms"], turn.speech_ms, SCRIPT_SLACK_MS), real


def test_assistant_messages_carry_the_scripted_llm_and_tts_timings(
    normal_call: NormalCall,
) -> None:
    emitted = normal_call.emitted
    updates = of_type(emitted, "conversation-update")
    answers = [u["messages"][-1] for u in updates if u["messages"][-1]["role"] == "assistant"]
    welcome, *replies = answers
    assert welcome["metrics"]["tts"]["audioDurationMs"] == 4 * NORMAL_TTS["ms_per_word"]
    tts_ttfbs = normal_call.tts.ttfbs_ms  # per synthesis: the welcome, then per sentence
    firsts = [tts_ttfbs[1], tts_ttfbs[3]]  # each reply's first sentence
    for message, reply, llm_ttfb, tts_ttfb in zip(
        replies, NORMAL_REPLIES, normal_call.llm.ttfbs_ms, firsts, strict=True
    ):
        llm, tts = message["metrics"]["llm"], message["metrics"]["tts"]
        assert near(llm["responseLatencyMs"], llm_ttfb), (llm, llm_ttfb)
        assert near(tts["generationTimeMs"], tts_ttfb), (tts, tts_ttfb)
        assert near(llm_ttfb, reply.ttfb_ms, SCRIPT_SLACK_MS)
        assert near(tts_ttfb, NORMAL_TTS["ttfb_ms"], SCRIPT_SLACK_MS)
        words = len(reply.text.split())
        assert tts["audioDurationMs"] == words * NORMAL_TTS["ms_per_word"]
        assert "hang" not in message["metrics"]


def test_the_report_prices_the_usage_the_services_reported(
    normal_call: NormalCall,
) -> None:
    emitted = normal_call.emitted
    report = emitted[-1]
    assert report["type"] == "end-of-call-report"
    call = report["call"]
    assert call["callEndTriggerBy"] == "user"  # the caller hung up
    assert emitted[-2]["call"]["callEndTriggerBy"] == "user"
    cost = call["cost"]
    input_tokens = sum(reply.input_tokens for reply in NORMAL_REPLIES)
    output_tokens = sum(len(reply.tokens) for reply in NORMAL_REPLIES)
    characters = sum(len(s) for r in NORMAL_REPLIES for s in sentences(r.text))
    characters += len("Welcome to the clinic!")
    stt_seconds = sum((t.speech_ms + t.vad_stop_ms + t.stt_ms) / 1000 for t in NORMAL_TURNS)
    assert (cost["inputTokensTotal"], cost["outputTokensTotal"]) == (input_tokens, output_tokens)
    assert cost["ttsGenCharsTotal"] == characters
    assert cost["llmVendorCost"] == pytest.approx(
        input_tokens * PRICES.llm_per_input_token["openai"]
        + output_tokens * PRICES.llm_per_output_token["openai"]
    )
    assert cost["ttsVendorCost"] == pytest.approx(characters * PRICES.tts_per_character["cartesia"])
    assert cost["sttVendorCost"] == pytest.approx(
        stt_seconds / 60 * PRICES.stt_per_minute["deepgram"]
    )
    parts = ("interactlyCost", "phoneCost", "ttsVendorCost", "sttVendorCost", "llmVendorCost")
    assert cost["totalCost"] == pytest.approx(sum(cost[key] for key in parts))
    stats = call["metrics"]["callStats"]
    assert stats["turns"] == {"user": 2, "bot": 3, "played": 3, "interrupted": 0, "skipped": 0}
    assert stats["llmStats"]["responseCount"] == 2
    assert stats["llmStats"]["hangups"] == 0
    assert [t["userMessageId"] for t in stats["turnsStats"]["botTurns"]] == [
        "welcome-1",
        "user-1",
        "user-2",
    ]
    assert len(stats["turnsStats"]["botResponseTime"]) == 2


# -- barge-in, hang, errors ----------------------------------------------------------------


def test_a_barge_in_keeps_exactly_the_text_the_speaker_released() -> None:
    first = "We are open from eight to five."
    reply = f"{first} On Saturdays we open at ten and close at two."
    turns = [
        UserTurn("What are your opening hours?"),
        # 300 ms/word: the first sentence plays 2.1 s, the second until 5.1 s; the user
        # breaks in 3 s after the bot started.
        UserTurn("And on Sundays?", barge_in_ms=2800, vad_start_ms=200),
    ]
    emitted, _ = asyncio.run(run_call(turns, [Reply(reply), Reply("Closed on Sundays.")]))
    user = of_type(emitted, "conversation-update")[2]["messages"][-1]
    assert user["text"] == "And on Sundays?"
    (skipped,) = user["skippedAssistantMessages"]
    assert skipped["text"] == reply
    assert skipped["playedText"] == first
    assert near(skipped["playedMs"], 3000, 60)
    stats = emitted[-1]["call"]["metrics"]["callStats"]
    assert stats["turnsStats"]["bargeInCount"] == 1
    assert stats["turns"]["interrupted"] == 1
    assert [m["text"] for m in emitted[-1]["messages"]][-1] == "Closed on Sundays."


def test_a_stalled_llm_emits_one_hang_and_the_late_reply_says_how_long_it_waited() -> None:
    turns = [UserTurn("Can you check my booking?")]
    replies = [Reply("Yes, you are booked for Tuesday.", ttfb_ms=6000)]
    emitted, _ = asyncio.run(run_call(turns, replies))
    (hang,) = of_type(emitted, "hang")
    assert hang["hang"]["pendingMessageId"] == "user-1"
    assert hang["hang"]["stage"] == "llm"
    assert near(hang["hang"]["waitedMs"], 5000)
    assert shape_problems(emitted) == []  # the hang and the late reply too
    late = of_type(emitted, "conversation-update")[-1]["messages"][-1]
    assert late["text"] == replies[0].text
    metrics = late["metrics"]
    waited = metrics["hang"]["waitedMs"]
    assert waited > 6000
    # from the end of the user turn to the first audio: LLM latency, then the player's wait
    assert near(
        waited, metrics["llm"]["responseLatencyMs"] + metrics["interactlyPlayer"]["waitTimeMs"], 2
    )
    stats = emitted[-1]["call"]["metrics"]["callStats"]
    assert stats["llmStats"]["hangups"] == 1


def test_llm_and_stt_failures_become_error_events_with_provider_and_retryable() -> None:
    turns = [
        UserTurn("Hello?", stt_error=ErrorCategory.SERVER),
        UserTurn("Hello, can you hear me?", after_reply=False, pause_ms=300),
        UserTurn("Are you there?", after_reply=False, pause_ms=1200),
    ]
    replies = [Reply("", ttfb_ms=200, error=ErrorCategory.QUOTA), Reply("Yes, I can hear you.")]
    emitted, _ = asyncio.run(run_call(turns, replies))
    assert shape_problems(emitted) == []
    errors = [e["error"] for e in of_type(emitted, "error")]
    assert errors == [
        {
            "type": "stt_error",
            "code": "service_unavailable",
            "message": "Audio quality too low to transcribe",
            "provider": "ScriptedUser",
            "retryable": True,
            "details": {},
        },
        {
            "type": "llm_error",
            "code": "quota_exceeded",
            "message": "The scripted provider failed",
            "provider": "ScriptedLLM",
            "retryable": False,
            "details": {},
        },
    ]
    texts = [(m["role"], m["text"]) for m in emitted[-1]["messages"]]
    assert texts == [
        ("user", "Hello, can you hear me?"),
        ("user", "Are you there?"),
        ("assistant", "Yes, I can hear you."),
    ]
    stats = emitted[-1]["call"]["metrics"]["callStats"]
    assert (stats["llmStats"]["errors"], stats["sttStats"]["errors"]) == (1, 1)


# -- function calls (callhook decision: one message per user turn; the timer keeps running) --


def test_a_filler_and_the_answer_after_a_function_call_form_one_message() -> None:
    turns = [UserTurn("Am I booked for Tuesday?")]
    replies = [Reply("You are booked at nine.", filler="Let me check.", tool_ms=1500)]
    emitted, _ = asyncio.run(run_call(turns, replies))
    assert [(m["role"], m["text"]) for m in emitted[-1]["messages"]] == [
        ("user", "Am I booked for Tuesday?"),
        ("assistant", "Let me check. You are booked at nine."),
    ]
    assert of_type(emitted, "hang") == []  # the filler played within the threshold
    stats = emitted[-1]["call"]["metrics"]["callStats"]
    assert stats["turns"]["bot"] == 1 and stats["turns"]["interrupted"] == 0


def test_a_silent_function_call_past_the_threshold_is_a_hang() -> None:
    turns = [UserTurn("Am I booked for Tuesday?")]
    replies = [Reply("You are booked at nine.", ttfb_ms=200, tool_ms=5500)]
    emitted, _ = asyncio.run(run_call(turns, replies))
    (hang,) = of_type(emitted, "hang")
    assert hang["hang"]["pendingMessageId"] == "user-1"
    answer = emitted[-1]["messages"][-1]
    assert answer["text"] == "You are booked at nine."
    late = of_type(emitted, "conversation-update")[-1]["messages"][-1]
    assert late["metrics"]["hang"]["waitedMs"] > 5700


# -- ends and configuration ----------------------------------------------------------------


async def _end_after_first_answer(worker: PipelineWorker, answered: asyncio.Event) -> None:
    await answered.wait()
    await worker.queue_frame(EndFrame())


def test_an_end_frame_ends_the_call_by_the_bot_and_missing_metrics_are_reported() -> None:
    turns = [UserTurn("Bye now.")]
    emitted, observer = asyncio.run(
        run_call(
            turns,
            [Reply("Goodbye!")],
            pipeline_params=PipelineParams(),  # metrics off
            during=_end_after_first_answer,
        )
    )
    assert emitted[-1]["type"] == "end-of-call-report"
    assert emitted[-1]["call"]["callEndTriggerBy"] == "bot"
    assert len(observer.warnings) == 2
    assert "enable_metrics" in observer.warnings[0]
    assert "enable_usage_metrics" in observer.warnings[1]
    # without metrics, the cost falls back to the text and the call length
    assert emitted[-1]["call"]["cost"]["inputTokensTotal"] == 0


async def _cancel_after_first_answer(worker: PipelineWorker, answered: asyncio.Event) -> None:
    await answered.wait()
    await worker.cancel()


def test_a_cancelled_pipeline_ends_the_call_by_the_system() -> None:
    emitted, _ = asyncio.run(
        run_call([UserTurn("Hi.")], [Reply("Hello!")], during=_cancel_after_first_answer)
    )
    assert emitted[-1]["type"] == "end-of-call-report"
    assert emitted[-1]["call"]["callEndTriggerBy"] == "system"


# -- through a Dispatcher into a real receiver ---------------------------------------------


def test_an_observed_call_is_delivered_and_stored_exactly(receiver: str, tmp_path: Path) -> None:
    """Pipeline → observer → Dispatcher (durable outbox) → ``callhook serve`` → query API."""

    async def scenario() -> ListSink:
        sink = ListSink()

        class Tee:
            def __init__(self, dispatcher: Dispatcher) -> None:
                self.dispatcher = dispatcher

            def emit(self, envelope: Any) -> None:
                sink.emit(envelope)
                self.dispatcher.emit(envelope)

        outbox = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
        async with Dispatcher(outbox, policy=RetryPolicy().testing()) as dispatcher:
            turns = [
                UserTurn("What are your opening hours?"),
                UserTurn("And on Sundays?", barge_in_ms=2300),
                UserTurn("Thanks, bye."),
            ]
            replies = [
                Reply("We are open from eight to five. On Saturdays we open at ten."),
                Reply("Closed on Sundays."),
                Reply("Goodbye!"),
            ]
            await run_call(
                turns,
                replies,
                sink=Tee(dispatcher),
                welcome="Welcome to the clinic!",
                server_url=f"{receiver}/webhook",
                call_id="WC-pipecat-delivered",
            )
            await dispatcher.flush()
            await asyncio.wait_for(dispatcher.wait_idle(), 60)
        return sink

    sink = asyncio.run(scenario())
    assert len(sink.envelopes) >= 10
    asyncio.run(assert_stored_exactly(receiver, "WC-pipecat-delivered", sink))
