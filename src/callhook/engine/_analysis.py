"""Post-call analysis: the ``Analyzer`` Protocol and the offline default.

An analyzer turns the finished call into the top-level ``analysis`` of the end-of-call report:
``summary``, ``successEvaluation``, ``structuredData`` (following the assistant's JSON schema)
and ``outcome``. Analyzers are async so that one calling a model does not block the loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from callhook.events import UNSET, Analysis, AnalysisTask, Assistant, AssistantAnalysis, Message

__all__ = ["AnalysisInput", "Analyzer", "OfflineAnalyzer", "transcript"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|St|Prof|Jr|Sr|vs|No)\.$")
_WORD = re.compile(r"[A-Za-z0-9']+")
_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "be",
        "can",
        "could",
        "do",
        "for",
        "from",
        "hello",
        "hi",
        "i",
        "i'm",
        "is",
        "it",
        "me",
        "my",
        "of",
        "ok",
        "okay",
        "on",
        "please",
        "so",
        "that",
        "the",
        "this",
        "to",
        "uh",
        "um",
        "want",
        "what",
        "with",
        "yes",
        "yeah",
        "you",
    )
)
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NAME = re.compile(
    r"\b(?:my name is|my name's|this is|i am|i'm|name is)\s+"
    r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    """Everything an analyzer may use about a finished call."""

    call_id: str
    assistant: Assistant
    messages: Sequence[Message]
    #: The assistant's system prompt with ``{{variables}}`` filled.
    system_prompt: str
    #: ``user``, ``bot`` or ``system``; ``""`` when the call failed to start.
    ended_by: str
    failed: bool = False
    hangs: int = 0
    error_codes: Sequence[str] = ()
    dynamic_variables: Mapping[str, Any] = field(default_factory=dict)  # Any: free JSON values


class Analyzer(Protocol):
    """Produces ``analysis`` for the end-of-call report."""

    async def analyze(self, call: AnalysisInput) -> Analysis: ...


def transcript(messages: Sequence[Message]) -> str:
    """``User: ...`` / ``Assistant: ...`` lines, one per message."""
    return "\n".join(
        f"{'User' if m.role == 'user' else 'Assistant'}: {m.text}"
        for m in messages
        if isinstance(m.text, str) and m.text
    )


def analysis_tasks(assistant: Assistant) -> AssistantAnalysis:
    settings = assistant.assistant_analysis
    return settings if isinstance(settings, AssistantAnalysis) else AssistantAnalysis()


def enabled(task: AnalysisTask | Any) -> bool:  # Any: an UNSET or None field
    """A task runs unless it is present and explicitly disabled."""
    return not (isinstance(task, AnalysisTask) and task.enabled is False)


def schema_properties(assistant: Assistant) -> dict[str, dict[str, Any]]:
    """The ``properties`` of the structuredData schema (``{}`` when none)."""
    task = analysis_tasks(assistant).structured_data
    if not isinstance(task, AnalysisTask) or not isinstance(task.schema, dict):
        return {}
    properties = task.schema.get("properties")
    return properties if isinstance(properties, dict) else {}


class OfflineAnalyzer:
    """Rule-based analysis that needs no network: the default.

    - summary: the user's most informative sentences and the assistant's last words, quoted;
    - successEvaluation: a score from hangs, errors, how the call ended and how much of the
      structured data was found, mapped to the rubric (DescriptiveScale, PassFail, NumericScale);
    - structuredData: each schema property looked for in the user's words (names, phone
      numbers, e-mails, numbers, ``<field> is <value>``) or in the dynamic variables, else the
      empty value of its type;
    - outcome: one short sentence.
    """

    async def analyze(self, call: AnalysisInput) -> Analysis:
        tasks = analysis_tasks(call.assistant)
        data, found, wanted = extract_structured_data(call)
        score = _score(call, found, wanted)
        return Analysis(
            summary=summarize(call.messages) if enabled(tasks.summary) else "",
            success_evaluation=evaluate(score, tasks.success_evaluation)
            if enabled(tasks.success_evaluation)
            else "",
            structured_data=data if enabled(tasks.structured_data) else {},
            outcome=_outcome(call, found, wanted),
        )


def summarize(messages: Sequence[Message], *, user_sentences: int = 2) -> str:
    """An extractive summary: the most informative user sentences, then the assistant's last."""
    scored: list[tuple[int, int, str]] = []
    for index, message in enumerate(m for m in messages if m.role == "user"):
        for sentence in sentences(message.text if isinstance(message.text, str) else ""):
            words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS]
            if words:
                scored.append((len(words), -index, sentence.strip()))
    best = sorted(scored, reverse=True)[:user_sentences]
    picked = [s for _, _, s in sorted(best, key=lambda item: -item[1])]
    last_reply = next(
        (m.text for m in reversed(messages) if m.role == "assistant" and m.text),
        None,
    )
    if not picked and not isinstance(last_reply, str):
        return "No conversation took place."
    parts = []
    if picked:
        parts.append("The user said " + " and ".join(f'"{_bare(s)}"' for s in picked))
    if isinstance(last_reply, str):
        parts.append(f'The assistant last said "{_bare(last_reply)}"')
    return " ".join(part + "." for part in parts)


def _bare(sentence: str) -> str:
    return sentence.strip().rstrip(".!?")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, not after common abbreviations (``Dr.``)."""
    result: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if result and _ABBREVIATION.search(result[-1]):
            result[-1] = f"{result[-1]} {piece}"
        else:
            result.append(piece)
    return [sentence for sentence in result if sentence]


def evaluate(score: float, task: AnalysisTask | Any) -> str:  # Any: an UNSET or None field
    """Map a 0..1 score to the rubric of the successEvaluation task."""
    rubric = task.rubric if isinstance(task, AnalysisTask) else UNSET
    if rubric == "PassFail":
        return "true" if score >= 0.6 else "false"
    if rubric == "NumericScale":
        return str(max(1, round(score * 10)))
    for threshold, label in ((0.85, "Excellent"), (0.6, "Good"), (0.35, "Fair")):
        if score >= threshold:
            return label
    return "Poor"


def extract_structured_data(call: AnalysisInput) -> tuple[dict[str, Any], int, int]:
    """The structuredData object, how many properties were found, and how many were asked."""
    properties = schema_properties(call.assistant)
    user_text = " ".join(
        m.text for m in call.messages if m.role == "user" and isinstance(m.text, str)
    )
    data: dict[str, Any] = {}  # Any: values of the schema's types
    found = 0
    for key, spec in properties.items():
        value = call.dynamic_variables.get(key)
        if value in (None, ""):
            value = _find(key, spec, user_text)
        if value is None:
            data[key] = _empty(spec)
        else:
            data[key] = _coerce(value, spec)
            found += 1
    return data, found, len(properties)


def _find(key: str, spec: Mapping[str, Any], text: str) -> str | None:
    hint = f"{key} {spec.get('description', '')}".lower().replace("_", " ")
    if "email" in hint or "e-mail" in hint:
        match = _EMAIL.search(text)
        return match[0] if match else None
    if "phone" in hint or "mobile" in hint:
        match = _PHONE.search(text)
        return re.sub(r"[^\d+]", "", match[0]) if match else None
    if "name" in hint and spec.get("type", "string") == "string":
        match = _NAME.search(text)
        return match[1] if match else None
    words = key.replace("_", " ").lower()
    said = re.search(rf"\b{re.escape(words)}\s+(?:is|was|:)\s+([^.,!?]+)", text, re.IGNORECASE)
    if said:
        return said[1].strip()
    return None


def _empty(spec: Mapping[str, Any]) -> Any:  # Any: the empty value of a JSON type
    kind = spec.get("type")
    return {"number": 0, "integer": 0, "boolean": False, "array": [], "object": {}}.get(
        kind if isinstance(kind, str) else "", "" if kind in ("string", None) else None
    )


def _coerce(value: Any, spec: Mapping[str, Any]) -> Any:  # Any: JSON in, JSON out
    kind = spec.get("type")
    if kind in ("number", "integer"):
        match = _NUMBER.search(str(value))
        if match is None:
            return 0
        number = float(match[0])
        return int(number) if kind == "integer" or number.is_integer() else number
    if kind == "boolean":
        return str(value).strip().lower() in ("yes", "true", "1", "y")
    return value if isinstance(value, str) else str(value)


def _score(call: AnalysisInput, found: int, wanted: int) -> float:
    if call.failed or not any(m.role == "user" for m in call.messages):
        return 0.0
    score = 1.0
    score -= min(0.5, 0.25 * call.hangs)
    score -= 0.25 if call.error_codes else 0.0
    score -= 0.25 if call.ended_by == "system" else 0.0
    if wanted:
        score -= 0.4 * (1 - found / wanted)
    return max(score, 0.0)


def _outcome(call: AnalysisInput, found: int, wanted: int) -> str:
    users = sum(1 for m in call.messages if m.role == "user")
    if call.failed:
        return "Call failed to start"
    if users == 0:
        return "No conversation"
    if call.error_codes and not any(m.role == "assistant" for m in call.messages[1:]):
        return "Technical failure: " + ", ".join(dict.fromkeys(call.error_codes))
    if wanted:
        return "Information collected" if found == wanted else "Information incomplete"
    by = {"user": "the user", "bot": "the assistant", "system": "the system"}.get(call.ended_by)
    return f"Call ended by {by or 'unknown'} after {users} user turns"
