"""The Dispatcher over a fake transport with a fake clock: every delivery path."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from callhook.delivery import (
    REDACTED,
    DeliveryError,
    Dispatcher,
    RetryPolicy,
    list_attempts,
    list_deliveries,
)

from .conftest import URL, FakeClock, FakeTransport, dispatcher, envelope, server

SIGNING_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SIGNING_B = "whsec_QWxsIHlvdXIgYmFzZSBhcmUgYmVsb25nIHRvIHVz"

pytestmark = pytest.mark.asyncio


@dataclass
class Seen:
    """One request the fake endpoint received, and when (fake clock)."""

    at: float
    request: httpx.Request

    @property
    def body(self) -> bytes:
        return self.request.content

    @property
    def call_id(self) -> str:
        return str(json.loads(self.body)["message"]["call"]["id"])

    @property
    def sequence(self) -> int:
        return int(self.request.headers["x-callhook-call-sequence"])

    @property
    def attempt(self) -> int:
        return int(self.request.headers["x-callhook-attempt"])


@dataclass
class Endpoint:
    """A scripted endpoint: ``respond`` picks each response; every request is kept."""

    clock: FakeClock
    respond: Callable[[httpx.Request, int], httpx.Response] = lambda r, n: httpx.Response(200)
    seen: list[Seen] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(Seen(self.clock.time(), request))
        return self.respond(request, len(self.seen))


def retry_then_ok(code: int, retry_after: str) -> Callable[[httpx.Request, int], httpx.Response]:
    """``code`` with ``Retry-After`` first, then 200."""
    first = httpx.Response(code, headers={"retry-after": retry_after})
    return lambda request, n: first if n == 1 else httpx.Response(200)


def statuses(*codes: int) -> Callable[[httpx.Request, int], httpx.Response]:
    """Answer the n-th request with ``codes[n-1]`` (the last code repeats)."""
    return lambda request, n: httpx.Response(codes[min(n, len(codes)) - 1])


async def test_2xx_posts_the_spec_body_with_headers_and_secret(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    env = envelope()
    async with dispatcher(db, endpoint, clock=clock) as d:
        webhook_id = await d.deliver(env)
        await d.wait_idle()
    assert webhook_id is not None and webhook_id.startswith("msg_")
    [seen] = endpoint.seen
    request = seen.request
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-interactly-secret"] == "s3cret"
    assert request.headers["authorization"] == "Bearer token-1"
    assert request.headers["webhook-id"] == webhook_id
    assert seen.sequence == 1
    assert seen.attempt == 1
    body = json.loads(request.content)
    assert set(body) == {"message"}
    assert body["message"]["type"] == "status-update"
    assert body["message"]["call"]["id"] == "WC-1"
    assert body["message"]["timestamp"] == 1772702479627
    [record] = list_deliveries(db)
    assert (record.status, record.attempts, record.last_status_code) == ("delivered", 1, 200)
    [attempt] = list_attempts(db, record.id)
    assert (attempt.status_code, attempt.outcome, attempt.error) == (200, "delivered", None)
    assert attempt.latency_ms >= 0


async def test_secrets_echoed_in_the_payload_are_redacted(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    env = envelope(assistant_server=server(signingSecret=SIGNING_A))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(env)
        await d.wait_idle()
    echoed = json.loads(endpoint.seen[0].body)["message"]["assistant"]["assistantServer"]
    assert echoed["secret"] == REDACTED
    assert echoed["signingSecret"] == REDACTED
    assert echoed["headers"] == {"Authorization": REDACTED}
    assert echoed["url"] == URL
    assert b"s3cret" not in endpoint.seen[0].body and b"token-1" not in endpoint.seen[0].body


@pytest.mark.parametrize("code", [301, 302, 307])
async def test_3xx_is_a_failure_and_redirects_are_not_followed(db: sa.Engine, code: int) -> None:
    clock = FakeClock()
    endpoint = Endpoint(
        clock, lambda r, n: httpx.Response(code, headers={"location": "https://elsewhere/"})
    )
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    assert len(endpoint.seen) == 1
    [record] = list_deliveries(db, failed=True)
    assert record.last_status_code == code
    assert record.last_error is not None
    assert "redirects are not followed" in record.last_error
    assert "https://elsewhere/" in record.last_error


async def test_404_is_given_up_at_once(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(404))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    assert len(endpoint.seen) == 1
    [record] = list_deliveries(db)
    assert (record.status, record.last_status_code) == ("dead", 404)


async def test_410_disables_the_endpoint_until_a_replay(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(410))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope("WC-1", n=0))
        await d.wait_idle()
        await d.deliver(envelope("WC-2", n=1))
        await d.wait_idle()
        assert len(endpoint.seen) == 1, "nothing is sent to a disabled endpoint"
        records = list_deliveries(db)
        assert [r.status for r in records] == ["dead", "dead"]
        assert records[0].last_error is not None and "410" in records[0].last_error
        endpoint.respond = statuses(200)
        replayed = await d.replay([r.id for r in records])
        await d.wait_idle()
    assert sorted(replayed) == sorted(r.id for r in records)
    assert len(endpoint.seen) == 3
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


async def test_429_honours_retry_after_seconds(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(
        clock,
        lambda r, n: (
            httpx.Response(429, headers={"retry-after": "42"}) if n == 1 else httpx.Response(200)
        ),
    )
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    first, second = endpoint.seen
    assert second.at - first.at == pytest.approx(42.0)
    assert second.attempt == 2
    assert second.request.headers["webhook-id"] == first.request.headers["webhook-id"]
    [record] = list_deliveries(db)
    assert [a.status_code for a in list_attempts(db, record.id)] == [429, 200]


async def test_503_honours_retry_after_as_an_http_date(db: sa.Engine) -> None:
    clock = FakeClock()
    later = httpx.Response(503, headers={"retry-after": _http_date(clock.now + 300)})
    endpoint = Endpoint(clock, lambda r, n: later if n == 1 else httpx.Response(204))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    first, second = endpoint.seen
    assert second.at - first.at == pytest.approx(300.0)


async def test_500_then_200_retries_after_about_one_second(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(500, 200))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    first, second = endpoint.seen
    assert 0.9 <= second.at - first.at <= 1.1
    assert (first.attempt, second.attempt) == (1, 2)
    [record] = list_deliveries(db)
    assert (record.status, record.attempts) == ("delivered", 2)


async def test_timeouts_are_retried(db: sa.Engine) -> None:
    clock = FakeClock()

    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200)

    endpoint = Endpoint(clock, respond)
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    assert len(endpoint.seen) == 2
    [record] = list_deliveries(db)
    [timeout, ok] = list_attempts(db, record.id)
    assert timeout.status_code is None and timeout.error is not None
    assert "timeout after 5 s" in timeout.error
    assert ok.outcome == "delivered"


async def test_the_configured_timeout_is_passed_to_the_transport(db: sa.Engine) -> None:
    clock = FakeClock()
    transport = FakeTransport(Endpoint(clock))
    async with Dispatcher(db, transport=transport, clock=clock, poll_interval=None) as d:
        await d.deliver(envelope(assistant_server=server(timeoutSeconds=3)))
        await d.wait_idle()
    assert transport.timeouts == [3.0]


async def test_connection_refused_exhausts_then_dead_letter_then_replay(db: sa.Engine) -> None:
    clock = FakeClock()
    fixed = False

    def respond(request: httpx.Request, n: int) -> httpx.Response:
        if not fixed:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200)

    endpoint = Endpoint(clock, respond)
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
        assert len(endpoint.seen) == 8
        gaps = [b.at - a.at for a, b in zip(endpoint.seen, endpoint.seen[1:], strict=False)]
        for gap, planned in zip(gaps, (1, 5, 30, 120, 600, 1800, 3600), strict=True):
            assert planned * 0.9 <= gap <= planned * 1.1
        [dead] = list_deliveries(db, failed=True)
        assert dead.last_error is not None
        assert dead.last_error.startswith("gave up after 8 attempts: ConnectError")
        fixed = True
        await d.replay(call_id="WC-1")
        await d.wait_idle()
    assert len(endpoint.seen) == 9
    assert endpoint.seen[-1].attempt == 9
    [record] = list_deliveries(db)
    assert record.status == "delivered"
    assert len(list_attempts(db, record.id)) == 9


async def test_total_time_cap_gives_up_before_the_attempt_cap(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(500))
    policy = RetryPolicy(max_total_seconds=60.0)
    async with dispatcher(db, endpoint, clock=clock, policy=policy) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    assert len(endpoint.seen) == 4  # at 0, ~1, ~6, ~36 s; the next (~156 s) is past 60 s


async def test_max_retries_0_makes_a_single_attempt(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(500))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope(assistant_server=server(maxRetries=0)))
        await d.wait_idle()
    assert len(endpoint.seen) == 1
    [record] = list_deliveries(db)
    assert record.status == "dead"


async def test_test_mode_policy_retries_without_waiting(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(500, 500, 200))
    async with dispatcher(db, endpoint, clock=clock, policy=RetryPolicy().testing()) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    assert len(endpoint.seen) == 3
    assert {s.at for s in endpoint.seen} == {endpoint.seen[0].at}


async def test_per_call_order_holds_while_other_calls_flow(db: sa.Engine) -> None:
    clock = FakeClock()

    def respond(request: httpx.Request, n: int) -> httpx.Response:
        body = json.loads(request.content)["message"]
        is_first_of_a = body["call"]["id"] == "WC-A" and body["timestamp"] == 1772702479627
        failures = sum(1 for s in endpoint.seen if s.call_id == "WC-A")
        return httpx.Response(500 if is_first_of_a and failures <= 2 else 200)

    endpoint = Endpoint(clock, respond)
    async with dispatcher(db, endpoint, clock=clock) as d:
        for n in range(3):
            await d.deliver(envelope("WC-A", "conversation-update", n=n))
            await d.deliver(envelope("WC-B", "conversation-update", n=n))
        await d.wait_idle()
    a = [s for s in endpoint.seen if s.call_id == "WC-A"]
    b = [s for s in endpoint.seen if s.call_id == "WC-B"]
    assert [s.sequence for s in a] == [1, 1, 1, 2, 3]
    assert [s.attempt for s in a] == [1, 2, 3, 1, 1]
    assert [s.sequence for s in b] == [1, 2, 3]
    first_a_success = endpoint.seen.index(a[2])
    assert all(endpoint.seen.index(s) < first_a_success for s in b), "B did not wait for A"


async def test_given_up_event_lets_the_next_event_of_the_call_go(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, statuses(400, 200))
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope(n=0))
        await d.deliver(envelope(n=1))
        await d.wait_idle()
    assert [s.sequence for s in endpoint.seen] == [1, 2]
    assert [r.status for r in list_deliveries(db)] == ["delivered", "dead"]


async def test_only_subscribed_event_types_are_sent(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    config = server(messages=["end-of-call-report"])
    async with dispatcher(db, endpoint, clock=clock) as d:
        skipped = await d.deliver(envelope(event_type="status-update", assistant_server=config))
        sent = await d.deliver(envelope(event_type="end-of-call-report", assistant_server=config))
        disabled = await d.deliver(envelope(assistant_server={"enabled": False}))
        await d.wait_idle()
    assert skipped is None and disabled is None and sent is not None
    [seen] = endpoint.seen
    assert json.loads(seen.body)["message"]["type"] == "end-of-call-report"
    assert seen.sequence == 1


async def test_signatures_verify_with_standardwebhooks_during_key_rotation(
    db: sa.Engine,
) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock, retry_then_ok(503, "10"))
    config = server(signingSecret=[SIGNING_A, SIGNING_B])
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope(assistant_server=config))
        await d.wait_idle()
    first, second = endpoint.seen
    for seen in (first, second):
        headers = dict(seen.request.headers)
        assert headers["webhook-timestamp"] == str(int(seen.at))
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (SIGNING_A, SIGNING_B):
            Webhook(secret).verify(seen.body, headers)
    assert first.request.headers["webhook-id"] == second.request.headers["webhook-id"]
    assert first.request.headers["webhook-timestamp"] != second.request.headers["webhook-timestamp"]


async def test_unsigned_requests_carry_the_webhook_id_only(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope())
        await d.wait_idle()
    headers = endpoint.seen[0].request.headers
    assert "webhook-id" in headers
    assert "webhook-signature" not in headers and "webhook-timestamp" not in headers


async def test_sync_emit_is_the_engine_sink_and_flush_commits(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    async with dispatcher(db, endpoint, clock=clock) as d:
        for n in range(5):
            assert d.emit(envelope(n=n)) is None  # type: ignore[func-returns-value]
        await d.flush()
        assert len(list_deliveries(db)) == 5
        await d.wait_idle()
    assert [s.sequence for s in endpoint.seen] == [1, 2, 3, 4, 5]


async def test_later_events_of_a_call_reuse_its_configuration(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    async with dispatcher(db, endpoint, clock=clock) as d:
        await d.deliver(envelope(n=0))
        truncated = await d.deliver(envelope(event_type="hang", assistant={}, n=1))
        other_call = await d.deliver(envelope("WC-9", "hang", assistant={}, n=2))
        await d.wait_idle()
    assert truncated is not None and other_call is None
    assert len(endpoint.seen) == 2
    assert endpoint.seen[1].request.headers["x-interactly-secret"] == "s3cret"


async def test_a_redacted_configuration_is_refused_with_advice(db: sa.Engine) -> None:
    clock = FakeClock()
    async with dispatcher(db, Endpoint(clock), clock=clock) as d:
        with pytest.raises(DeliveryError, match="redacted in this event"):
            await d.deliver(envelope(assistant_server=server(secret=REDACTED)))
        ok = await d.deliver(envelope(assistant_server=server(secret=REDACTED)), server=server())
    assert ok is not None


async def test_a_resolver_supplies_configurations(db: sa.Engine) -> None:
    clock = FakeClock()
    endpoint = Endpoint(clock)
    from callhook.delivery import ServerConfig

    config = ServerConfig.parse(server(url="http://other.example/hook"))
    async with dispatcher(db, endpoint, clock=clock, servers=lambda event: config) as d:
        await d.deliver(envelope(assistant={}))
        await d.wait_idle()
    assert str(endpoint.seen[0].request.url) == "http://other.example/hook"


async def test_concurrency_per_endpoint_is_bounded(db: sa.Engine) -> None:
    import asyncio

    clock = FakeClock()
    active = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        for _ in range(5):
            await asyncio.sleep(0)
        active -= 1
        return httpx.Response(200)

    async with dispatcher(db, handler, clock=clock, per_endpoint=2) as d:
        for n in range(12):
            d.emit(envelope(f"WC-{n}", n=n))
        await d.wait_idle()
    assert peak == 2
    assert {r.status for r in list_deliveries(db)} == {"delivered"}


async def test_use_before_start_and_after_close_raise_a_sentence(db: sa.Engine) -> None:
    d = Dispatcher(db, transport=FakeTransport(lambda r: httpx.Response(200)))
    with pytest.raises(DeliveryError, match="not started"):
        d.emit(envelope())
    async with d:
        pass
    with pytest.raises(DeliveryError, match="closed; create a new Dispatcher"):
        await d.deliver(envelope())
    await d.close()  # idempotent
    with pytest.raises(DeliveryError, match="already started"):
        await d.start()


async def test_background_tasks_are_named_and_gone_after_close(db: sa.Engine) -> None:
    import asyncio

    clock = FakeClock()
    async with dispatcher(db, Endpoint(clock), clock=clock):
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert {
            "callhook-delivery-writer",
            "callhook-delivery-claimer",
            "callhook-delivery-recorder",
        } <= names
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(name.startswith("callhook-delivery") for name in names)


def _http_date(when: float) -> str:
    from datetime import UTC, datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromtimestamp(when, tz=UTC), usegmt=True)


async def test_servers_by_assistant_serves_engine_payloads_with_redacted_secrets(
    db: sa.Engine,
) -> None:
    """The engine redacts assistantServer; the platform's table supplies the real one."""
    from callhook.delivery import servers_by_assistant

    clock = FakeClock()
    endpoint = Endpoint(clock)
    redacted = server(secret=REDACTED, headers={"Authorization": REDACTED})
    resolve = servers_by_assistant({"asst-1": server()})
    async with dispatcher(db, endpoint, clock=clock, servers=resolve) as d:
        d.emit(envelope(assistant_server=redacted, n=0))
        d.emit(envelope(assistant={}, n=1))  # no assistant id anywhere: not delivered
        await d.flush()
        await d.wait_idle()
    [seen] = endpoint.seen
    assert seen.request.headers["x-interactly-secret"] == "s3cret"
    assert seen.request.headers["authorization"] == "Bearer token-1"


async def test_close_lets_requests_in_flight_finish_and_records_them(db: sa.Engine) -> None:
    import asyncio

    started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        started.set()
        for _ in range(20):
            await asyncio.sleep(0)
        return httpx.Response(200)

    async with dispatcher(db, handler) as d:
        for n in range(3):
            d.emit(envelope(f"WC-{n}", n=n))
        await started.wait()
    assert [r.status for r in list_deliveries(db)] == ["delivered"] * 3
