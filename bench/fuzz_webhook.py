"""Webhook fuzzing: mutated events against a real ``callhook serve``; nothing 5xx, nothing lost.

Payloads are mutated from valid events of generated calls (status-update, conversation-update,
hang, error, end-of-call-report): type flips, deleted and duplicated keys, huge strings and
arrays, unicode edge cases (lone surrogates, noncharacters, zero-width and right-to-left marks,
astral characters), NUL in strings and raw NUL bytes, invalid UTF-8, deep nesting, numbers at
and past the 64-bit bounds, truncated bodies, wrong content types, chunked bodies, and clients
that hang up mid-body. Each is sent over keep-alive HTTP/1.1 connections.

Checked:
- no response is 5xx or outside {200, 400, 413, 415, 422}; ``serve`` never exits;
- an acknowledged event's ``callId`` is the payload's ``call.id`` exactly;
- afterwards every acknowledged event is queryable: each call's events (by body digest) through
  ``/api/calls/{id}/events``, unattributed ones through ``/api/unattributed``;
- a string carrying NUL is either refused with 422 or stored exactly (call ids through
  ``/api/calls/{id}``, message texts through ``/api/calls/{id}/messages``);
- ``serve``'s RSS is sampled after a warm-up and at the end (growth reported).

Usage: ``python bench/fuzz_webhook.py [--cases 100000] [--seed 1]``. The last line is
``RESULT cases=... server_errors=... lost=... altered=... rss_growth_mb=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import random
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import read_response, rss_mb, serve

EXPECTED = {200, 400, 413, 415, 422}
BOUNDS = [
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**30,
    -0.0,
    1e308,
    5e-324,
    0.1,
    -1,
    0,
]
UNICODE = [
    "\ud800",
    "\udfff",
    "\uffff",
    "\ufffe",
    "\u200b\u200d\u2060",
    "\u202e\u202d",
    "😀🏳️‍🌈",
    "\U0001d54f" * 50,
    "e\u0301" * 20,
    "\u0085\u2028\u2029",
    "\x7f\x1b[31m",
]
FLIPS: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"k": None}]


@dataclass
class Case:
    body: bytes
    content_type: str = "application/json"
    chunked: bool = False
    hang_up: bool = False
    kind: str = ""
    #: (what, call id, message id or None, the exact string) when NUL was put in a string
    nul: tuple[str, str, str | None, str] | None = None


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    #: call id → digests of acknowledged bodies
    acked: dict[str, set[str]] = field(default_factory=dict)
    unattributed: set[str] = field(default_factory=set)
    nul_stored: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    sent: int = 0


def base_events(rng: random.Random, call_id: str) -> list[dict[str, Any]]:
    clock = 1_772_702_480_000 + rng.randrange(10**9)
    history: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    assistant = {"_id": "asst-fuzz", "name": "Fuzz", "assistantProvider": "openai"}

    def emit(kind: str, status: str, **rest: Any) -> None:
        nonlocal clock
        call = {"id": call_id, "assistantId": "asst-fuzz", "status": status, "callType": "web"}
        out.append({"message": {"type": kind, "timestamp": clock, "call": call, **rest}})
        clock += 1000

    emit("status-update", "ongoing", assistant=assistant)
    for i in range(rng.randint(1, 6)):
        role = "user" if i % 2 else "assistant"
        mid = f"user-{(i + 1) // 2}" if role == "user" else f"a-{i}"
        metrics = {"llm": {"responseLatencyMs": rng.randint(100, 5000)}} if role != "user" else {}
        history.append(
            {"messageId": mid, "role": role, "text": f"turn {i}", "timestamp": clock, **metrics}
        )
        emit("conversation-update", "ongoing", messages=list(history))
    emit("hang", "ongoing", messages=list(history), hang={"waitedMs": 5100, "thresholdMs": 5000})
    error = {"type": "llm_error", "code": "rate_limit", "message": "slow", "retryable": True}
    emit("error", "ongoing", messages=list(history), error=error)
    emit("end-of-call-report", "finished", messages=list(history), analysis={"summary": "ok"})
    return out


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    found = []
    if isinstance(node, dict | list):
        found.append((path, node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            found += _containers(child, (*path, key))
    return found


def _strings(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(node, str):
        return [(path, node)]
    found = []
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            found += _strings(child, (*path, key))
    return found


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _dumps(tree: Any, rng: random.Random) -> bytes:
    return json.dumps(tree, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def mutate(rng: random.Random, event: dict[str, Any]) -> Case:
    tree = copy.deepcopy(event)
    kind = rng.choice(
        [
            "flip",
            "delete",
            "duplicate_key",
            "huge_string",
            "huge_array",
            "unicode",
            "nul",
            "raw_nul",
            "bad_utf8",
            "deep",
            "number",
            "truncate",
            "content_type",
            "chunked",
            "hang_up",
            "valid",
        ]
    )
    containers = [(p, c) for p, c in _containers(tree) if c]
    case = Case(b"", kind=kind)
    if kind == "flip" and containers:
        path, node = rng.choice(containers)
        key = rng.choice(list(node) if isinstance(node, dict) else list(range(len(node))))
        node[key] = copy.deepcopy(rng.choice(FLIPS))
    elif kind == "delete" and containers:
        path, node = rng.choice(containers)
        if isinstance(node, dict):
            node.pop(rng.choice(list(node)))
        else:
            node.pop(rng.randrange(len(node)))
    elif kind == "huge_string":
        strings = _strings(tree)
        if strings:
            path, _ = rng.choice(strings)
            _set(tree, path, rng.choice(["x", "é", "😀", "\\"]) * rng.choice([10_000, 300_000]))
    elif kind == "huge_array" and containers:
        path, node = rng.choice(containers)
        filler = [rng.choice(FLIPS) for _ in range(rng.choice([1000, 50_000]))]
        if isinstance(node, dict):
            node[rng.choice(list(node))] = filler
        else:
            node.extend(filler)
    elif kind == "unicode":
        strings = _strings(tree)
        if strings:
            path, value = rng.choice(strings)
            at = rng.randint(0, len(value))
            _set(tree, path, value[:at] + rng.choice(UNICODE) + value[at:])
    elif kind == "nul":
        message = tree["message"]
        call_id = message["call"]["id"]
        choice = rng.random()
        if choice < 0.4:
            new_id = call_id + "\x00" + str(rng.randrange(1000))
            message["call"]["id"] = new_id
            case.nul = ("call.id", new_id, None, new_id)
        elif message.get("messages") and choice < 0.8:
            m = rng.choice(message["messages"])
            m["messageId"] = f"{m['messageId']}-nul{rng.randrange(10**9)}"  # no later version
            m["text"] = m["text"] + "\x00tail"
            case.nul = ("text", call_id, m["messageId"], m["text"])
        elif message.get("messages"):
            m = rng.choice(message["messages"])
            m["messageId"] = m["messageId"] + "\x00x"
            case.nul = ("messageId", call_id, m["messageId"], m["messageId"])
    elif kind == "number":
        numbers = [
            (p, v)
            for p, v in _leaves(tree)
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if numbers:
            path, _ = rng.choice(numbers)
            _set(tree, path, rng.choice(BOUNDS))
        else:
            _set(tree, ("message", "timestamp"), rng.choice(BOUNDS))
    body = _dumps(tree, rng)
    if kind == "number" and rng.random() < 0.3:
        body = body.replace(b'"timestamp": ', b'"timestamp": 1e400, "x": ', 1)
    elif kind == "duplicate_key":
        body = body.replace(
            b'"call": ',
            b'"call": {"id": "dup-' + str(rng.randrange(99)).encode() + b'"}, "call": ',
            1,
        )
    elif kind == "deep":  # as text: deeper than json.dumps recurses
        depth = rng.choice([30, 63, 64, 65, 200, 5000])
        nested = (
            b'{"d":' * depth + b"0" + b"}" * depth
            if rng.random() < 0.5
            else b"[" * depth + b"0" + b"]" * depth
        )
        body = body.replace(b'"timestamp": ', b'"deep": ' + nested + b', "timestamp": ', 1)
    elif kind == "raw_nul":
        at = rng.randrange(len(body))
        body = body[:at] + b"\x00" + body[at:]
    elif kind == "bad_utf8":
        at = rng.randrange(len(body))
        body = (
            body[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80"]) + body[at:]
        )
    elif kind == "truncate":
        body = body[: rng.randrange(len(body))]
    elif kind == "content_type":
        case.content_type = rng.choice(
            [
                "text/plain",
                "",
                "application/x-www-form-urlencoded",
                "application/json; charset=utf-16",
                "APPLICATION/JSON",
                "application/cloudevents+json",
                "multipart/form-data",
            ]
        )
    elif kind == "chunked":
        case.chunked = True
    elif kind == "hang_up":
        case.hang_up = True
    case.body = body
    return case


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict | list):
        found = []
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            found += _leaves(child, (*path, key))
        return found
    return [(path, node)]


def _payload_call_id(body: bytes) -> Any:
    try:
        return json.loads(body)["message"]["call"]["id"]
    except Exception:  # any shape: the payload was mutated
        return None


def _request(case: Case, rng: random.Random) -> bytes:
    head = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if case.content_type:
        head += f"Content-Type: {case.content_type}\r\n"
    if case.chunked:
        parts, rest = [], case.body
        while rest:
            size = rng.randint(1, 4096)
            parts.append(
                f"{size if size < len(rest) else len(rest):x}\r\n".encode() + rest[:size] + b"\r\n"
            )
            rest = rest[size:]
        return (
            (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(parts) + b"0\r\n\r\n"
        )
    return (head + f"Content-Length: {len(case.body)}\r\n\r\n").encode() + case.body


async def _send_all(port: int, cases: list[Case], tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        for case in cases:
            reader, writer = await _one(port, case, tally, rng, reader, writer)
    finally:
        if writer is not None:
            writer.close()


async def _one(
    port: int,
    case: Case,
    tally: Tally,
    rng: random.Random,
    reader: asyncio.StreamReader | None,
    writer: asyncio.StreamWriter | None,
) -> tuple[asyncio.StreamReader | None, asyncio.StreamWriter | None]:
    """Send one case (on the kept-alive connection, or a new one); the connection to reuse."""
    if writer is None or reader is None or reader.at_eof():
        if writer is not None:
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    tally.kinds[case.kind] += 1
    tally.sent += 1
    raw = _request(case, rng)
    if case.hang_up:
        writer.write(raw[: max(1, len(raw) // 2)])
        await writer.drain()
        writer.close()
        return None, None
    writer.write(raw)
    try:
        status, answer = await asyncio.wait_for(read_response(reader), 60)
    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
        tally.problems.append(f"no answer to a {case.kind} case: {type(exc).__name__}")
        writer.close()
        return None, None
    tally.statuses[status] += 1
    if status not in EXPECTED:
        tally.problems.append(f"{status} for a {case.kind} case: {answer[:300]!r}")
    if status != 200:
        return reader, writer
    outcome = json.loads(answer)
    digest = hashlib.sha256(case.body).hexdigest()[:16]
    if outcome["outcome"] == "unattributed":
        tally.unattributed.add(case.body.decode("utf-8", "replace"))
        return reader, writer
    sent_id = _payload_call_id(case.body)
    if isinstance(sent_id, str) and outcome["callId"] != sent_id:
        tally.problems.append(f"call id {sent_id!r} acknowledged as {outcome['callId']!r}")
    tally.acked.setdefault(outcome["callId"], set()).add(digest)
    if case.nul is not None:
        tally.nul_stored.append(case.nul)
    return reader, writer


def _get(base: str, path: str, **params: Any) -> Any:
    query = urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(f"{base}{path}?{query}", timeout=60) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise QueryError(f"GET {path[:200]} → {exc.code}: {exc.read()[:300]!r}") from None


class QueryError(Exception):
    """A query of the verification step failed."""


def _quote(call_id: str) -> str:
    return urllib.parse.quote(call_id, safe="")


def _stored_digests(base: str, call_id: str) -> set[str]:
    stored: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = _get(base, f"/api/calls/{_quote(call_id)}/events", **params)
        stored |= {e["digest"] for e in page["events"]}
        cursor = page["nextCursor"]
        if not cursor:
            return stored


def verify(base: str, tally: Tally) -> tuple[int, int]:
    """(acknowledged events not queryable, NUL strings altered)."""
    lost = 0
    for call_id, digests in tally.acked.items():
        try:
            stored = _stored_digests(base, call_id)
        except QueryError as exc:
            tally.problems.append(f"call {call_id[:100]!r} not queryable: {exc}")
            lost += len(digests)
            continue
        missing = digests - stored
        if missing:
            lost += len(missing)
            tally.problems.append(f"call {call_id!r}: {len(missing)} acknowledged events missing")
    listed: set[str] = set()
    cursor = None
    while True:
        page = _get(base, "/api/unattributed", limit=500, **({"cursor": cursor} if cursor else {}))
        listed |= {json.dumps(e["body"], sort_keys=True) for e in page["events"]}
        cursor = page["nextCursor"]
        if not cursor:
            break
    for text in tally.unattributed:
        try:
            canonical = json.dumps(json.loads(text), sort_keys=True)
        except ValueError:
            continue
        if canonical not in listed:
            lost += 1
            tally.problems.append(f"unattributed event missing: {text[:200]!r}")
    altered = 0
    for what, call_id, _, exact in tally.nul_stored:
        if what == "call.id":
            got = _get(base, f"/api/calls/{_quote(call_id)}")["callId"]
            ok = got == exact
        else:
            messages = _get(base, f"/api/calls/{_quote(call_id)}/messages", limit=500)["messages"]
            key = "messageId" if what == "messageId" else "text"
            ok = any(m.get(key) == exact for m in messages)
        if not ok:
            altered += 1
            tally.problems.append(f"NUL in {what} of {call_id!r} not kept exactly")
    return lost, altered


def run(cases: int, seed: int, folder: Path, connections: int = 8) -> dict[str, Any]:
    rng = random.Random(seed)
    plan: list[Case] = []
    while len(plan) < cases:
        events = base_events(rng, f"fz-{seed}-{len(plan)}")
        for event in events:
            plan.append(
                mutate(rng, event) if rng.random() < 0.9 else Case(_dumps(event, rng), kind="valid")
            )
    plan = plan[:cases]
    tally = Tally()
    with serve(f"sqlite:///{folder / 'fuzz.sqlite3'}", folder) as (process, port):
        base = f"http://127.0.0.1:{port}"
        warm = min(len(plan), max(200, cases // 20))
        asyncio.run(_send_all(port, plan[:warm], tally, seed))
        rss_start = rss_mb(process.pid)
        began = time.monotonic()

        async def spread() -> None:
            rest = plan[warm:]
            await asyncio.gather(
                *(
                    _send_all(port, rest[i::connections], tally, seed + i)
                    for i in range(connections)
                )
            )

        asyncio.run(spread())
        elapsed = time.monotonic() - began
        rss_end = rss_mb(process.pid)
        alive = process.poll() is None
        lost, altered = verify(base, tally)
        if process.poll() is not None:
            alive = False
    server_errors = sum(n for s, n in tally.statuses.items() if s >= 500)
    if not alive:
        tally.problems.append("callhook serve exited")
    return {
        "cases": tally.sent,
        "server_errors": server_errors,
        "lost": lost,
        "altered": altered,
        "rss_growth_mb": rss_end - rss_start,
        "rss_mb": rss_end,
        "statuses": dict(sorted(tally.statuses.items())),
        "kinds": dict(sorted(tally.kinds.items())),
        "problems": tally.problems,
        "seconds": elapsed,
        "acked": sum(len(d) for d in tally.acked.values()) + len(tally.unattributed),
        "nul_checked": len(tally.nul_stored),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callhook-fuzz-") as tmp:
        result = run(args.cases, args.seed, Path(tmp), args.connections)
    print(f"statuses: {result['statuses']}")
    print(f"mutations: {result['kinds']}")
    print(
        f"{result['acked']} acknowledged events checked; {result['nul_checked']} NUL strings "
        f"stored and checked; {result['seconds']:.0f} s; serve RSS {result['rss_mb']:.0f} MB"
    )
    for problem in result["problems"][:50]:
        print(f"PROBLEM {problem}")
    print(
        f"RESULT cases={result['cases']} server_errors={result['server_errors']} "
        f"lost={result['lost']} altered={result['altered']} "
        f"rss_growth_mb={result['rss_growth_mb']:.1f} problems={len(result['problems'])}"
    )
    if result["problems"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
