"""``[redaction]``: what the receiver removes from events before anything stores or shows them."""

from __future__ import annotations

import enum
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from callhook._exceptions import ConfigError

__all__ = ["ENTITIES", "NumberMode", "RedactionConfig"]

#: What the text scrubber finds, by presidio's entity names.
ENTITIES = ("CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS", "PHONE_NUMBER")
_MIN_KEY = 16
#: The modules of the ``redaction`` extra.
_NEEDS = ("presidio_analyzer", "presidio_anonymizer", "phonenumbers")


class NumberMode(enum.StrEnum):
    """What becomes of the caller's number (``call.userNumber``, ``customer.number``)."""

    #: ``hmac:`` and an HMAC-SHA256 of the number (E.164 when it parses) under ``key``: the
    #: same caller always gets the same value, so their calls still group.
    HASH = "hash"
    #: Every letter and every digit but the last four replaced by ``*``.
    MASK = "mask"


@dataclass(frozen=True, slots=True)
class RedactionConfig:
    """The ``[redaction]`` section; off unless ``enabled``."""

    enabled: bool = False
    numbers: NumberMode = NumberMode.HASH
    #: The HMAC key for ``numbers = "hash"`` (best given as ``CALLHOOK_REDACTION_KEY``).
    key: str = field(default="", repr=False)
    #: Scrub transcript and analysis text of card numbers, SSNs, e-mail and phone numbers.
    text: bool = True
    #: Where a number without a country code is assumed to be (ISO 3166 codes).
    regions: tuple[str, ...] = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")

    def check(self) -> None:
        """Raise ``ConfigError`` when redaction is on but cannot work as configured."""
        if not self.enabled:
            return
        missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"[redaction] needs {', '.join(missing)}: pip install 'callhook[redaction]'",
                setting="redaction.enabled",
            )
        if self.numbers is NumberMode.HASH and len(self.key) < _MIN_KEY:
            raise ConfigError(
                f"[redaction] numbers = 'hash' needs a key of at least {_MIN_KEY} characters: "
                'set CALLHOOK_REDACTION_KEY (make one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"), or key = "..." under [redaction]; '
                "keep it: calls hashed under another key no longer group with these",
                setting="redaction.key",
            )
        if not self.regions:
            raise ConfigError(
                "[redaction] regions must name at least one region", setting="redaction.regions"
            )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], source: str) -> RedactionConfig:  # Any: TOML
        """The ``[redaction]`` table of a TOML file; ``ConfigError`` names a bad key."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}  # Any: TOML values
        for key, value in table.items():
            setting = f"redaction.{key}"
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown setting {setting} (known: {', '.join(sorted(known))})",
                    setting=setting,
                )
            if key in ("enabled", "text") and not isinstance(value, bool):
                raise ConfigError(f"{source}: {setting} must be true or false", setting=setting)
            if key == "key" and not isinstance(value, str):
                raise ConfigError(f"{source}: {setting} must be a string", setting=setting)
            if key == "numbers":
                try:
                    value = NumberMode(value)
                except ValueError:
                    modes = ", ".join(repr(m.value) for m in NumberMode)
                    raise ConfigError(
                        f"{source}: {setting} must be one of {modes}", setting=setting
                    ) from None
            if key == "regions":
                if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                    raise ConfigError(
                        f"{source}: {setting} must be a list of region codes", setting=setting
                    )
                value = tuple(value)
            values[key] = value
        return cls(**values)
