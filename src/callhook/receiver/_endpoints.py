"""Other platforms' endpoints: ``[vapi]`` and ``[retell]`` (docs/vapi.md, docs/retell.md).

Environment: ``CALLHOOK_VAPI_SECRET`` (secret or bearer tokens), ``CALLHOOK_VAPI_HMAC_SECRET``
(HMAC credentials), ``CALLHOOK_RETELL_API_KEY`` (API keys); several comma-separated values
allow rotation. They win over the file's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callhook._exceptions import ConfigError

__all__ = ["ENV", "PLATFORM_KEYS", "PlatformEndpoint", "endpoint_from_table"]


@dataclass(frozen=True, slots=True)
class PlatformEndpoint:
    """The endpoint of another platform's webhooks.

    ``tokens``: Vapi secret or bearer credentials, or Retell API keys; ``hmac_secrets``: Vapi
    HMAC credentials. ``enabled``: ``None`` serves it when it has credentials, or without
    them on a loopback address; ``True`` also refuses to start off loopback without them;
    ``False`` never serves it.
    """

    path: str
    enabled: bool | None = None
    tokens: tuple[str, ...] = field(default=(), repr=False)
    hmac_secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_auth(self) -> bool:
        return bool(self.tokens or self.hmac_secrets)

    def served(self, loopback: bool) -> bool:
        """Whether ``callhook serve`` answers at ``path`` (``loopback``: it listens on a
        loopback address)."""
        return self.enabled is not False and (self.has_auth or loopback)


#: File keys of each section → ``PlatformEndpoint`` attribute.
PLATFORM_KEYS = {
    "vapi": {
        "path": "path",
        "enabled": "enabled",
        "secrets": "tokens",
        "hmac_secrets": "hmac_secrets",
    },
    "retell": {"path": "path", "enabled": "enabled", "api_keys": "tokens"},
}
#: Environment variable → (section, attribute).
ENV = {
    "CALLHOOK_VAPI_SECRET": ("vapi", "tokens"),
    "CALLHOOK_VAPI_HMAC_SECRET": ("vapi", "hmac_secrets"),
    "CALLHOOK_RETELL_API_KEY": ("retell", "tokens"),
}


def endpoint_from_table(name: str, table: Mapping[str, Any]) -> PlatformEndpoint:  # Any: TOML
    """``[vapi]`` / ``[retell]`` from file keys (or the attribute names the environment sets);
    ``ConfigError`` names a wrong key or value."""
    fields: dict[str, Any] = {"path": f"/webhook/{name}"}  # Any: checked below
    keys = PLATFORM_KEYS[name]
    for key, value in table.items():
        attribute = keys.get(key, key if key in keys.values() else None)
        if attribute is None:
            raise ConfigError(f"unknown setting {name}.{key}", setting=name)
        if attribute in ("tokens", "hmac_secrets"):
            value = (value,) if isinstance(value, str) else value
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}.{key} must be a list of strings", setting=name)
            value = tuple(v for v in value if v)
        elif attribute == "enabled" and not isinstance(value, bool):
            raise ConfigError(f"{name}.enabled must be true or false", setting=name)
        elif attribute == "path" and not isinstance(value, str):
            raise ConfigError(f"{name}.path must be a string", setting=name)
        fields[attribute] = value
    return PlatformEndpoint(**fields)
