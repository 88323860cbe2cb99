"""A LiveKit voice agent whose calls reach a webhook receiver as callhook events.

    callhook serve &                                   # the receiver and its dashboard
    python examples/livekit_agent.py --offline --to http://127.0.0.1:8000/webhook

``--offline`` runs an ``AgentSession`` on scripted STT, LLM and TTS plugins with no room: a
short conversation with a barge-in and one slow LLM reply that causes a hang. Without it, the
agent runs as a LiveKit worker (``python examples/livekit_agent.py --to URL dev``) with models
from LiveKit Inference, and reads LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.

The callhook part: ``attach`` the session to a call session that delivers through a
Dispatcher, and build the agent on ``CallhookAgent`` so interrupted replies keep their text.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from livekit.agents import AgentSession

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
from callhook.integrations.livekit import CallhookAgent, attach, new_call

EVENTS = ["status-update", "conversation-update", "end-of-call-report", "hang", "error"]
INSTRUCTIONS = "You are the friendly front desk of a dental clinic."


def assistant(webhook_url: str) -> Assistant:
    """The assistant as the platform holds it; ``assistantServer`` says where events go."""
    return Assistant(
        id="6650c0ffee0000000000a002",
        name="Clinic front desk (LiveKit)",
        welcome_message="Welcome to the clinic! How can I help?",
        welcome_message_mode="assistant-speaks-first",
        barge_in_enabled=True,
        assistant_provider="openai",
        assistant_model="gpt-4.1-mini",
        assistant_system_prompt=INSTRUCTIONS,
        assistant_server=AssistantServer(enabled=True, url=webhook_url, messages=EVENTS),
        config=VoiceConfig(
            speech=SpeechConfig(
                stt=SttConfig(vendor="deepgram", language="en-US"),
                tts_data=[TtsConfig(vendor="cartesia", language="en-US", voice="sonic")],
            )
        ),
    )


class FrontDesk(CallhookAgent):
    """Greets the caller first, then answers with the session's LLM."""

    def __init__(self) -> None:
        super().__init__(instructions=INSTRUCTIONS)

    async def on_enter(self) -> None:
        self.session.say("Welcome to the clinic! How can I help?")


async def offline(webhook_url: str, outbox: str) -> None:
    from callhook.integrations.livekit.offline import Reply, UserTurn, offline_session

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
        Reply("You are booked for Saturday at ten.", ttft_ms=6000, input_tokens=340),  # a hang
        Reply("Goodbye!", input_tokens=380),
    ]
    async with Dispatcher(outbox) as dispatcher:
        session, caller, synchronizer = offline_session(turns, replies, after_welcome=True)
        params = CallParams(id=f"WC-{uuid.uuid4()}", team_id="team-examples", user_number="web-Ada")
        # The callhook lines: a call session delivering through the Dispatcher, attached.
        call = attach(session, new_call(assistant(webhook_url), params, sink=dispatcher))
        await session.start(FrontDesk())
        await asyncio.wait_for(caller.done.wait(), 120)
        await session.aclose()
        await synchronizer.aclose()
        await call.aclose()
        await dispatcher.flush()
        await asyncio.wait_for(dispatcher.wait_idle(), 60)
        print(f"call {params.id}: {call.session.status}; events delivered to {webhook_url}")


def live(webhook_url: str, outbox: str) -> None:
    """A LiveKit worker: each job is a call (LiveKit Inference models, keys from the env)."""
    from livekit.agents import AgentServer, JobContext, cli

    server = AgentServer()

    @server.rtc_session()
    async def entrypoint(ctx: JobContext) -> None:
        dispatcher = Dispatcher(outbox)
        await dispatcher.start()
        session: AgentSession[None] = AgentSession(
            stt="deepgram/nova-3", llm="openai/gpt-4.1-mini", tts="cartesia/sonic-2"
        )
        params = CallParams(id=f"WC-{ctx.room.name}", team_id="team-examples")
        call = attach(session, new_call(assistant(webhook_url), params, sink=dispatcher))

        async def finish() -> None:
            await call.aclose()
            await dispatcher.close()

        ctx.add_shutdown_callback(finish)
        await session.start(FrontDesk(), room=ctx.room)

    cli.run_app(server)


def main() -> None:
    parser = argparse.ArgumentParser(description="A LiveKit agent emitting callhook events.")
    parser.add_argument("--to", required=True, help="the receiver's webhook URL")
    parser.add_argument("--offline", action="store_true", help="scripted plugins, no keys")
    parser.add_argument("--outbox", default="sqlite:///livekit-outbox.sqlite3")
    args, rest = parser.parse_known_args()
    if args.offline:
        asyncio.run(offline(args.to, args.outbox))
    else:
        sys.argv = [sys.argv[0], *rest]  # LiveKit's own command line: dev, start, ...
        live(args.to, args.outbox)


if __name__ == "__main__":
    main()
