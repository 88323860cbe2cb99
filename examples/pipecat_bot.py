"""A Pipecat voice bot whose calls reach a webhook receiver as callhook events.

    callhook serve &                                   # the receiver and its dashboard
    python examples/pipecat_bot.py --offline --to http://127.0.0.1:8000/webhook

``--offline`` runs scripted STT, LLM and TTS services: a short conversation with a barge-in
and one slow LLM reply that causes a hang. Without it, the bot joins a Daily room with real
services (``pip install 'pipecat-ai[daily,deepgram,openai,cartesia,silero]'``) and reads:
DAILY_ROOM_URL (and DAILY_TOKEN if the room needs one), DEEPGRAM_API_KEY, OPENAI_API_KEY,
CARTESIA_API_KEY and CARTESIA_VOICE_ID.

The callhook part is the observer on the worker and the Dispatcher it emits into.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid

from pipecat.frames.frames import TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from callhook.delivery import Dispatcher
from callhook.engine import CallParams
from callhook.events import (
    Assistant,
    AssistantServer,
    SpeechConfig,
    SttConfig,
    TtsConfig,
    VoiceConfig,
)
from callhook.integrations.pipecat import CallhookObserver

EVENTS = ["status-update", "conversation-update", "end-of-call-report", "hang", "error"]


def assistant(webhook_url: str) -> Assistant:
    """The assistant as the platform holds it; ``assistantServer`` says where events go."""
    return Assistant(
        id="6650c0ffee0000000000a001",
        name="Clinic front desk (Pipecat)",
        welcome_message="Welcome to the clinic! How can I help?",
        welcome_message_mode="assistant-speaks-first",
        barge_in_enabled=True,
        assistant_provider="openai",
        assistant_model="gpt-4o-mini",
        assistant_system_prompt="You are the friendly front desk of a dental clinic.",
        assistant_server=AssistantServer(enabled=True, url=webhook_url, messages=EVENTS),
        config=VoiceConfig(
            speech=SpeechConfig(
                stt=SttConfig(vendor="deepgram", language="en-US"),
                tts_data=[TtsConfig(vendor="cartesia", language="en-US", voice="sonic")],
            )
        ),
    )


def offline_pipeline() -> Pipeline:
    from callhook.integrations.pipecat.offline import Reply, UserTurn, offline_pipeline

    turns = [
        UserTurn("Hi, I'd like to book a cleaning."),
        UserTurn("What are your opening hours?"),
        UserTurn("Sorry, and on Saturdays?", barge_in_ms=2600),
        UserTurn("Can you book me for Saturday at ten?"),
        UserTurn("Thanks, bye!"),
    ]
    replies = [
        Reply("Of course. Which day would suit you?", input_tokens=220),
        Reply(
            "We are open from eight to five on weekdays. "
            "On Saturdays we open at ten and close at two.",
            input_tokens=260,
        ),
        Reply("On Saturdays we open from ten to two.", input_tokens=300),
        Reply("You are booked for Saturday at ten.", ttfb_ms=6000, input_tokens=340),  # a hang
        Reply("Goodbye!", input_tokens=380),
    ]
    return offline_pipeline(turns, replies, after_welcome=True)


def live_pipeline() -> tuple[Pipeline, object]:
    """A Daily room bot with Deepgram, OpenAI and Cartesia (keys from the environment)."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.cartesia.tts import CartesiaTTSService
    from pipecat.services.deepgram.stt import DeepgramSTTService
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.transports.daily.transport import DailyParams, DailyTransport

    transport = DailyTransport(
        os.environ["DAILY_ROOM_URL"],
        os.environ.get("DAILY_TOKEN"),
        "Clinic front desk",
        DailyParams(audio_in_enabled=True, audio_out_enabled=True),
    )
    context = LLMContext(
        [{"role": "system", "content": "You are the friendly front desk of a dental clinic."}]
    )
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )
    pipeline = Pipeline(
        [
            transport.input(),
            DeepgramSTTService(api_key=os.environ["DEEPGRAM_API_KEY"]),
            aggregators.user(),
            OpenAILLMService(api_key=os.environ["OPENAI_API_KEY"]),
            CartesiaTTSService(
                api_key=os.environ["CARTESIA_API_KEY"], voice_id=os.environ["CARTESIA_VOICE_ID"]
            ),
            transport.output(),
            aggregators.assistant(),
        ]
    )
    return pipeline, transport


async def main() -> None:
    parser = argparse.ArgumentParser(description="A Pipecat bot emitting callhook events.")
    parser.add_argument("--to", required=True, help="the receiver's webhook URL")
    parser.add_argument("--offline", action="store_true", help="scripted services, no keys")
    parser.add_argument("--outbox", default="sqlite:///pipecat-outbox.sqlite3")
    args = parser.parse_args()

    async with Dispatcher(args.outbox) as dispatcher:
        call = CallParams(id=f"WC-{uuid.uuid4()}", team_id="team-examples", user_number="web-Ada")
        # The two callhook lines: an observer driving a call session, delivering through the
        # Dispatcher (durable, signed, retried, in order per call).
        observer = CallhookObserver(assistant(args.to), call, sink=dispatcher)
        if args.offline:
            pipeline, transport = offline_pipeline(), None
        else:
            pipeline, transport = live_pipeline()
            observer.attach_transport(transport)  # a disconnect ends the call by the user
        worker = PipelineWorker(
            pipeline,
            observers=[observer],
            params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
            enable_rtvi=not args.offline,
            idle_timeout_secs=None if args.offline else 300,
        )

        @worker.event_handler("on_pipeline_started")
        async def welcome(worker: PipelineWorker, frame: object) -> None:
            await worker.queue_frame(TTSSpeakFrame(observer.session.welcome_message))

        runner = WorkerRunner()
        await runner.add_workers(worker)
        await runner.run()
        await dispatcher.flush()
        await asyncio.wait_for(dispatcher.wait_idle(), 60)
        print(f"call {call.id}: {observer.session.status}; events delivered to {args.to}")


if __name__ == "__main__":
    asyncio.run(main())
