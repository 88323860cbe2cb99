"""``ChatCompletionsAnalyzer`` against a real OpenAI-style server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callhook.engine import (
    AnalysisInput,
    AsyncioScheduler,
    CallSession,
    ChatCompletionsAnalyzer,
    ListSink,
)
from callhook.events import EndOfCallReport, Message
from tests.engine.helpers import make_assistant, make_params


@dataclass
class FakeModel:
    """What the server received, and whether it should fail."""

    url: str
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    fail: bool = False


def _answer(system: str) -> str:
    if "JSON Schema" in system:
        data = '{"Name": "Ramesh Naik", "phone number": "7706258801", "serial_number": 7}'
        return f"```json\n{data}\n```"
    if "Rubric" in system:
        return "Good"
    return "  The caller booked an appointment.  "


@pytest.fixture
def model() -> Iterator[FakeModel]:
    state = FakeModel(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append((self.path, dict(self.headers), body))
            if state.fail:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content = _answer(body["messages"][0]["content"])
            reply = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": content}}]}
            )
            data = reply.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _input() -> AnalysisInput:
    messages = (
        Message(message_id="welcome-1", role="assistant", text="Welcome!", timestamp=1),
        Message(message_id="user-1", role="user", text="My name is Ramesh Naik.", timestamp=2),
    )
    return AnalysisInput(
        call_id="WC-1",
        assistant=make_assistant(assistant_llm_url=""),
        messages=messages,
        system_prompt="You book appointments at Apollo clinic.",
        ended_by="user",
    )


@pytest.mark.asyncio
async def test_each_task_asks_the_model_with_the_assistants_prompt(model: FakeModel) -> None:
    analyzer = ChatCompletionsAnalyzer(url=model.url, api_key="sk-test")
    analysis = await analyzer.analyze(_input())
    assert analysis.summary == "The caller booked an appointment."
    assert analysis.success_evaluation == "Good"
    assert analysis.structured_data == {
        "Name": "Ramesh Naik",
        "phone number": "7706258801",
        "serial_number": 7,
    }
    assert analysis.outcome == "Information incomplete"  # offline: serial_number not said
    assert len(model.requests) == 3
    for path, headers, body in model.requests:
        assert path == "/v1/chat/completions"
        assert headers["Authorization"] == "Bearer sk-test"
        assert body["model"] == "gpt-4o-mini"
        assert body["messages"][1]["content"].endswith("User: My name is Ramesh Naik.")
    systems = sorted(body["messages"][0]["content"] for _, _, body in model.requests)
    assert any(s.startswith("Extract structured data") and '"Name"' in s for s in systems)
    questions = [body["messages"][1]["content"] for _, _, body in model.requests]
    assert any(q.startswith("System prompt of the AI participant:\nYou book") for q in questions)


@pytest.mark.asyncio
async def test_a_failing_model_falls_back_to_the_offline_results(
    model: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    model.fail = True
    with caplog.at_level(logging.WARNING, logger="callhook.engine"):
        analysis = await ChatCompletionsAnalyzer(url=model.url).analyze(_input())
    assert (
        analysis.summary
        == 'The user said "My name is Ramesh Naik". The assistant last said "Welcome".'
    )
    assert analysis.structured_data == {
        "Name": "Ramesh Naik",
        "phone number": "",
        "serial_number": 0,
    }
    assert len(model.requests) == 3
    assert sum("engine.analysis_fallback WC-1" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.asyncio
async def test_the_assistants_llm_url_is_used_when_none_is_given(model: FakeModel) -> None:
    call = _input()
    assistant = make_assistant(assistant_llm_url=f"{model.url}/chat/completions")
    call = dataclasses.replace(call, assistant=assistant)
    analysis = await ChatCompletionsAnalyzer().analyze(call)
    assert analysis.success_evaluation == "Good"
    assert [path for path, _, _ in model.requests] == ["/v1/chat/completions"] * 3


@pytest.mark.asyncio
async def test_without_any_url_the_offline_analysis_is_returned(model: FakeModel) -> None:
    analysis = await ChatCompletionsAnalyzer().analyze(_input())
    assert analysis.success_evaluation == "Good"  # offline: 1 - 0.4 * 2/3 missing fields
    assert model.requests == []


@pytest.mark.asyncio
async def test_a_session_on_the_event_loop_reports_the_models_analysis(model: FakeModel) -> None:
    sink = ListSink()
    async with AsyncioScheduler() as scheduler:
        session = CallSession(
            make_assistant(assistant_llm_url=model.url),
            make_params(),
            scheduler=scheduler,
            sink=sink,
            analyzer=ChatCompletionsAnalyzer(),
        )
        session.initiated()
        session.answered()
        session.user_turn_finalised("My name is Ramesh Naik.")
        session.ended("user")
        await scheduler.drain()
    report = sink.events[-1]
    assert isinstance(report, EndOfCallReport)
    assert report.analysis.summary == "The caller booked an appointment."  # type: ignore[union-attr]
    assert session.report is report
