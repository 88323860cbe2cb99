"""Forward targets: the ``[[forward]]`` tables of serve's config file, and ``--forward URL``.

Each target becomes a delivery ``ServerConfig`` (checked by ``ServerConfig.parse``, so a
target is held to the same rules as an ``assistantServer``), stored with each of its outbox
rows: a restarted process, or a ``callhook deliver`` process, sends with the configuration
the event was queued with.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callhook._exceptions import ConfigError, DeliveryConfigError
from callhook.delivery import ServerConfig, safe_url
from callhook.events import EventType

__all__ = ["MESSAGES_HEADER", "ForwardTarget", "RelayConfig"]

#: Sent with a conversation-update cut to the messages new to the target (``messages = "new"``).
MESSAGES_HEADER = "x-callhook-messages"

_ALL_EVENTS = [t.value for t in EventType]
#: ``[[forward]]`` keys and the ``assistantServer`` keys they become.
_KEYS = {
    "url": "url",
    "events": "messages",
    "timeout_seconds": "timeoutSeconds",
    "secret": "secret",
    "headers": "headers",
    "max_retries": "maxRetries",
    "signing_secret": "signingSecret",
}
_OWN_KEYS = {"name", "assistant_ids", "messages"}
_WIRE_KEY = re.compile(r"assistantServer\.([A-Za-z]+)")


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    """One app that receives what ``serve`` stores (docs/relay.md).

    ``config`` is how its requests go out; ``trimmed`` the same plus ``x-callhook-messages:
    new``, for conversation-updates cut to their new messages (``messages = "new"``).
    """

    name: str
    config: ServerConfig
    #: Only events of these assistants (``None``: every assistant).
    assistant_ids: frozenset[str] | None = None
    #: ``all``: bodies as received; ``new``: conversation-updates carry only new messages.
    messages: str = "all"
    trimmed: ServerConfig | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.config.url

    def wants(self, event_type: EventType, assistant_id: str | None) -> bool:
        """Whether an event of ``event_type`` for ``assistant_id`` goes to this target."""
        if event_type not in self.config.messages:
            return False
        return self.assistant_ids is None or assistant_id in self.assistant_ids

    @classmethod
    def from_url(cls, url: str) -> ForwardTarget:
        """A target with every default (``serve --forward URL``)."""
        return cls.from_table({"url": url}, "--forward")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> ForwardTarget:  # Any: TOML
        """Check one ``[[forward]]`` table; ``where`` names it in errors (``forward[0]``)."""
        unknown = sorted(set(table) - set(_KEYS) - _OWN_KEYS)
        if unknown:
            known = ", ".join(sorted([*_KEYS, *_OWN_KEYS]))
            raise ConfigError(
                f"{where}: unknown setting {unknown[0]!r}; a forward target takes: {known}",
                setting=f"{where}.{unknown[0]}",
            )
        server: dict[str, Any] = {"enabled": True, "messages": _ALL_EVENTS}  # Any: JSON
        for key, wire in _KEYS.items():
            if key in table:
                server[wire] = table[key]
        if "url" not in table:
            raise ConfigError(
                f'{where}: url is required (url = "https://app.example.com/hooks")',
                setting=f"{where}.url",
            )
        try:
            config = ServerConfig.parse(server)
        except DeliveryConfigError as exc:
            raise _config_error(exc, where) from None
        assert config is not None  # enabled
        messages = table.get("messages", "all")
        if messages not in ("all", "new"):
            raise ConfigError(
                f'{where}.messages must be "all" (bodies as received) or "new" '
                f"(conversation-updates carry only new messages), got {messages!r}",
                setting=f"{where}.messages",
            )
        name = table.get("name", safe_url(config.url))
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name must be a non-empty string", setting=f"{where}.name")
        return cls(
            name=name,
            config=config,
            assistant_ids=_assistant_ids(table.get("assistant_ids"), where),
            messages=messages,
            trimmed=_with_header(config) if messages == "new" else None,
        )


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Forward targets, and whether ``serve`` sends to them itself."""

    targets: tuple[ForwardTarget, ...] = ()
    #: Run the dispatcher inside ``serve`` (else ``callhook deliver`` processes send).
    deliver: bool = True
    #: ``process``: ``serve``'s dispatcher runs in a child process (another core than
    #: ingest); ``inline``: in the receiver's own event loop.
    isolation: str = "process"
    #: The child's CPU priority: ``low`` (``nice`` 10), ``normal`` or ``idle``.
    process_priority: str = "low"

    @classmethod
    def from_file(
        cls,
        forward: object,
        relay: object,
        source: str,
    ) -> RelayConfig:
        """From the ``[[forward]]`` array and the ``[relay]`` table of a config file."""
        targets: list[ForwardTarget] = []
        if forward is not None:
            if not isinstance(forward, list):
                raise ConfigError(
                    f"{source}: forward targets are an array of tables: write [[forward]]",
                    setting="forward",
                )
            for index, table in enumerate(forward):
                if not isinstance(table, dict):
                    raise ConfigError(
                        f"{source}: forward[{index}] must be a table", setting=f"forward[{index}]"
                    )
                targets.append(ForwardTarget.from_table(table, f"forward[{index}]"))
        settings: dict[str, Any] = {}  # Any: TOML values, checked below
        if relay is not None:
            if not isinstance(relay, dict):
                raise ConfigError(f"{source}: expected a [relay] table", setting="relay")
            settings = dict(relay)
        unknown = sorted(set(settings) - {"deliver", "isolation", "process_priority"})
        if unknown:
            raise ConfigError(
                f"{source}: unknown setting relay.{unknown[0]} (relay takes: deliver, "
                "isolation, process_priority)",
                setting=f"relay.{unknown[0]}",
            )
        deliver = settings.get("deliver", True)
        if not isinstance(deliver, bool):
            raise ConfigError("relay.deliver must be true or false", setting="relay.deliver")
        isolation = settings.get("isolation", "process")
        if isolation not in ("process", "inline"):
            raise ConfigError(
                'relay.isolation must be "process" (a child process sends) or "inline" (the '
                f"receiver's own event loop sends), got {isolation!r}",
                setting="relay.isolation",
            )
        priority = settings.get("process_priority", "low")
        if priority not in ("low", "normal", "idle"):
            raise ConfigError(
                f'relay.process_priority must be "low", "normal" or "idle", got {priority!r}',
                setting="relay.process_priority",
            )
        return cls(tuple(targets), deliver, isolation, priority).checked()

    def with_urls(self, urls: list[str]) -> RelayConfig:
        """These settings plus a target with defaults for each URL (``--forward``)."""
        added = tuple(ForwardTarget.from_url(url) for url in urls)
        return dataclasses.replace(self, targets=self.targets + added).checked()

    def checked(self) -> RelayConfig:
        """Raise ``ConfigError`` when two targets share a URL (a target is its URL in the
        outbox: their rows, order and dead letters would mix)."""
        seen: set[str] = set()
        for target in self.targets:
            if target.url in seen:
                raise ConfigError(
                    f"Two forward targets have the URL {safe_url(target.url)}: give each app "
                    "one target (several event types or assistants go in one target's lists)",
                    setting="forward",
                )
            seen.add(target.url)
        return self


def _assistant_ids(value: object, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f'{where}.assistant_ids must be a non-empty list of assistant ids (["asst-1"])',
            setting=f"{where}.assistant_ids",
        )
    return frozenset(value)


def _with_header(config: ServerConfig) -> ServerConfig:
    headers = {**config.headers, MESSAGES_HEADER: "new"}
    return ServerConfig(
        url=config.url,
        messages=config.messages,
        timeout_seconds=config.timeout_seconds,
        secret=config.secret,
        headers=headers,
        max_retries=config.max_retries,
        signing_secrets=config.signing_secrets,
    )


def _config_error(exc: DeliveryConfigError, where: str) -> ConfigError:
    """``exc`` in the words of a ``[[forward]]`` table (its keys, not ``assistantServer``'s)."""
    wire_to_key = {wire: key for key, wire in _KEYS.items()}

    def rename(match: re.Match[str]) -> str:
        return f"{where}.{wire_to_key.get(match.group(1), match.group(1))}"

    text = _WIRE_KEY.sub(rename, str(exc))
    setting = _WIRE_KEY.sub(rename, exc.key)
    return ConfigError(text, setting=setting)
