"""An ``Analyzer`` that asks an OpenAI-compatible chat-completions endpoint.

One request per enabled task (summary, successEvaluation, structuredData), concurrently, each
with the assistant's own analysis prompt as the system message and the transcript as the user
message. A task whose request fails, times out or answers something unusable falls back to the
offline analyzer's result for that task, with a warning in the ``callhook.engine`` log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable
from typing import Any

import aiohttp
import msgspec

from callhook.engine._analysis import (
    AnalysisInput,
    Analyzer,
    OfflineAnalyzer,
    analysis_tasks,
    enabled,
    schema_properties,
    transcript,
)
from callhook.events import Analysis, AnalysisTask

__all__ = ["ChatCompletionsAnalyzer"]

logger = logging.getLogger("callhook.engine")

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_DESCRIPTIVE = "A scale of Excellent, Good, Fair, Poor."
_DEFAULT_PROMPTS = {
    "summary": "Summarize the call transcript in 2-3 sentences.",
    "successEvaluation": "Evaluate whether the call met the objectives of the system prompt.",
    "structuredData": "Extract structured data from the transcript per the JSON Schema.",
}


class _ChatMessage(msgspec.Struct):
    content: str


class _Choice(msgspec.Struct):
    message: _ChatMessage


class _Completion(msgspec.Struct):
    choices: list[_Choice]


_COMPLETION = msgspec.json.Decoder(_Completion)
_ENCODER = msgspec.json.Encoder()


class ChatCompletionsAnalyzer:
    """Analysis by a chat model at ``url`` (default: the assistant's ``assistantLLMUrl``).

    ``url`` may be the full ``.../chat/completions`` endpoint or its base (``.../v1``).
    ``client`` is an ``aiohttp.ClientSession`` to reuse; without one,
    each analysis opens and closes its own. ``api_key`` is sent as a Bearer token.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client: aiohttp.ClientSession | None = None,
        api_key: str | None = None,
        model: str | None = None,
        fallback: Analyzer | None = None,
    ) -> None:
        self._url = url
        self._client = client
        self._api_key = api_key
        self._model = model
        self._fallback = fallback or OfflineAnalyzer()

    async def analyze(self, call: AnalysisInput) -> Analysis:
        offline = await self._fallback.analyze(call)
        url = self._url or (call.assistant.assistant_llm_url or "")
        if not isinstance(url, str) or not url:
            return offline
        if not url.rstrip("/").endswith("/chat/completions"):
            url = url.rstrip("/") + "/chat/completions"
        if self._client is not None:
            return await self._run(self._client, url, call, offline)
        async with aiohttp.ClientSession(trust_env=False) as client:
            return await self._run(client, url, call, offline)

    async def _run(
        self, client: aiohttp.ClientSession, url: str, call: AnalysisInput, offline: Analysis
    ) -> Analysis:
        tasks = analysis_tasks(call.assistant)
        text = transcript(call.messages)
        summary_q = success_q = data_q = None
        if enabled(tasks.summary):
            summary_q = self._ask(client, url, call, tasks.summary, "summary", text)
        if enabled(tasks.success_evaluation):
            question = f"System prompt of the AI participant:\n{call.system_prompt}\n\n{text}"
            success_q = self._ask(
                client, url, call, tasks.success_evaluation, "successEvaluation", question
            )
        if enabled(tasks.structured_data) and schema_properties(call.assistant):
            data_q = self._ask(client, url, call, tasks.structured_data, "structuredData", text)
        summary, success, data = await asyncio.gather(
            _maybe(summary_q), _maybe(success_q), _maybe(data_q)
        )
        return Analysis(
            summary=summary if summary is not None else offline.summary,
            success_evaluation=success if success is not None else offline.success_evaluation,
            structured_data=_structured(data, offline, call),
            outcome=offline.outcome,
        )

    async def _ask(
        self,
        client: aiohttp.ClientSession,
        url: str,
        call: AnalysisInput,
        task: AnalysisTask | Any,  # Any: an UNSET field when the assistant has no settings
        name: str,
        question: str,
    ) -> str | None:
        settings = task if isinstance(task, AnalysisTask) else AnalysisTask()
        system = settings.prompt if isinstance(settings.prompt, str) and settings.prompt else ""
        system = system or _DEFAULT_PROMPTS[name]
        if name == "successEvaluation":
            rubric = settings.rubric_description
            system += f"\n\nRubric: {rubric if isinstance(rubric, str) else _DESCRIPTIVE}"
        if name == "structuredData":
            system += f"\n\nJSON Schema:\n{json.dumps(settings.schema)}"
        model = settings.model or self._model or call.assistant.assistant_model or ""
        timeout = settings.timeout_in_secs
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        body = {
            "model": model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": question},
            ],
        }
        seconds = float(timeout) if isinstance(timeout, int | float) else 30.0
        try:
            async with client.post(
                url,
                data=_ENCODER.encode(body),
                headers={"content-type": "application/json", **headers},
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                response.raise_for_status()
                raw = await response.read()
            content = _COMPLETION.decode(raw).choices[0].message.content
        except (aiohttp.ClientError, TimeoutError, msgspec.DecodeError, IndexError) as exc:
            logger.warning("engine.analysis_fallback %s %s: %s", call.call_id, name, exc)
            return None
        return content.strip()


async def _maybe(question: Awaitable[str | None] | None) -> str | None:
    return None if question is None else await question


def _structured(answer: str | None, offline: Analysis, call: AnalysisInput) -> dict[str, Any]:
    fallback = offline.structured_data if isinstance(offline.structured_data, dict) else {}
    if answer is None:
        return fallback
    try:
        parsed = json.loads(_FENCE.sub("", answer))
    except ValueError:
        logger.warning("engine.analysis_fallback %s structuredData: not JSON", call.call_id)
        return fallback
    if not isinstance(parsed, dict):
        return fallback
    return {key: parsed.get(key, fallback.get(key)) for key in schema_properties(call.assistant)}
