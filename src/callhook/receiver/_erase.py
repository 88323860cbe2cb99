"""``DELETE /api/calls/{callId}``: erase one call, with an audit record naming the token.

Answers 200 ``{"calls", "rows", "auditId"}`` (rows deleted per table), 404 when no such call
was stored (the request is still recorded), and 403 when the receiver has no API tokens
configured: an erasure must be attributable to a named token. ``?reference=`` (a ticket
number, up to 200 characters) is kept in the audit record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callhook.receiver._api import error_response, json_response, token_name
from callhook.store import Store, erase_calls

__all__ = ["erase_routes"]

logger = logging.getLogger("callhook.receiver")

_MAX_REFERENCE = 200


def erase_routes(store: Store, clock: Callable[[], int]) -> list[Route]:
    async def erase(request: Request) -> Response:
        actor = token_name(request, "Erasing a call", "the audit record")
        if isinstance(actor, Response):
            return actor
        reference = request.query_params.get("reference")
        if reference is not None and len(reference) > _MAX_REFERENCE:
            return error_response(
                400,
                "invalid_parameter",
                f"reference must be at most {_MAX_REFERENCE} characters",
                "query.reference",
            )
        call_id = request.path_params["callId"]
        erased = await store.remove(
            lambda c: erase_calls(c, [call_id], actor=actor, reference=reference, now_ms=clock())
        )
        logger.info("receiver.erased audit=%s calls=%d by=%s", erased.audit_id, erased.calls, actor)
        if erased.calls == 0:
            return error_response(
                404, "not_found", "No such call is stored (the request is recorded)", "path.callId"
            )
        return json_response(erased.as_json())

    return [Route("/api/calls/{callId}", erase, methods=["DELETE"])]
