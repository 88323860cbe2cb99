"""Which ``assistantServer`` configuration an event is delivered with.

First found: ``server=`` given to ``Dispatcher.deliver``; the ``servers`` resolver given to the
``Dispatcher`` (``servers_by_assistant`` builds one from a table); the event's own
``assistant.assistantServer``; the last configuration seen for the same call (events may carry
a truncated assistant, ``{}`` or a few keys).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from callhook._exceptions import DeliveryConfigError
from callhook.delivery._config import RawServer, ServerConfig
from callhook.delivery._payload import REDACTED
from callhook.events import Assistant, AssistantServer, Call, Event, EventType

__all__ = ["ConfigResolver", "ServerInput", "ServerResolver", "servers_by_assistant"]

_WIRE = msgspec.json.Encoder()
_PARSED_CACHE = 1024

#: Finds the delivery configuration of an event (``None``: do not deliver it).
ServerResolver = Callable[[Event], ServerConfig | None]
#: A configuration as given by a caller.
ServerInput = ServerConfig | AssistantServer | RawServer


def servers_by_assistant(
    servers: Mapping[str, ServerInput],
) -> ServerResolver:
    """A ``Dispatcher(servers=...)`` resolver from a table of assistant id -> configuration.

    Each configuration is checked now (``DeliveryConfigError`` names the offending key); an
    event is matched by ``call.assistantId``, else ``assistant._id``. Use it when payloads
    carry redacted or truncated ``assistantServer`` objects (the engine redacts by default).
    """
    table: dict[str, ServerConfig | None] = {}
    for assistant_id, value in servers.items():
        table[assistant_id] = (
            value if isinstance(value, ServerConfig) else ServerConfig.parse(value)
        )

    def resolve(event: Event) -> ServerConfig | None:
        call = event.call
        key = call.assistant_id if isinstance(call, Call) else None
        if not isinstance(key, str) and isinstance(event.assistant, Assistant):
            key = event.assistant.id
        return table.get(key) if isinstance(key, str) else None

    return resolve


class ConfigResolver:
    """Resolves each event's configuration, remembering the last one of each call."""

    def __init__(self, servers: ServerResolver | None) -> None:
        self._servers = servers
        self._by_call: dict[str, ServerConfig | None] = {}
        self._parsed: dict[bytes, ServerConfig | None] = {}

    def _parse(self, wire: AssistantServer) -> ServerConfig | None:
        """``ServerConfig.parse`` of an event's ``assistantServer``, remembered by its JSON
        (every event of a call carries the same one: checked once, one object)."""
        key = _WIRE.encode(wire)
        if key in self._parsed:
            return self._parsed[key]
        config = ServerConfig.parse(wire)
        if config is not None:
            _refuse_redacted(config)
        if len(self._parsed) >= _PARSED_CACHE:
            self._parsed.clear()
        self._parsed[key] = config
        return config

    @property
    def has_servers(self) -> bool:
        """Whether a ``servers`` resolver was given."""
        return self._servers is not None

    def config_for_replay(self, server: ServerInput | None) -> ServerConfig | None:
        """The configuration given to a replay, checked (``None``: none given)."""
        if server is None:
            return None
        config = server if isinstance(server, ServerConfig) else ServerConfig.parse(server)
        if config is None:
            raise DeliveryConfigError(
                "a replay needs an enabled configuration: assistantServer.enabled is false",
                "assistantServer.enabled",
            )
        return config

    def config_for(self, event: Event, server: ServerInput | None) -> ServerConfig | None:
        """The configuration of ``event`` (``None``: not delivered)."""
        if server is not None:
            return server if isinstance(server, ServerConfig) else ServerConfig.parse(server)
        if self._servers is not None:
            return self._servers(event)
        call_id = event.call_id or ""
        assistant = event.assistant
        wire = assistant.assistant_server if isinstance(assistant, Assistant) else None
        if isinstance(wire, AssistantServer):
            config = self._parse(wire)
            self._by_call[call_id] = config
        else:
            config = self._by_call.get(call_id)
        if event.type is EventType.END_OF_CALL_REPORT:
            self._by_call.pop(call_id, None)
        return config


def _refuse_redacted(config: ServerConfig) -> None:
    if config.secret == REDACTED or REDACTED in config.headers.values():
        raise DeliveryConfigError(
            "assistantServer.secret or its header values are redacted in this event; give the "
            "Dispatcher the real configuration (servers=... or deliver(..., server=...))",
            "assistantServer.secret",
            url=config.url,
        )
