"""Reading another platform's JSON with paths, and building callhook's events from it.

A platform body is decoded once into Python values; every read goes through ``Reader``, which
names the JSON path of a value of the wrong type in its ``DecodeError`` (``Expected `str`, got
`int` - at `$.message.call.id```), so a bad delivery gets a 422 that says where. Absent and
``null`` values read as ``None``: platforms omit and null keys freely.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from callhook._exceptions import DecodeError

__all__ = [
    "Json",
    "Reader",
    "decode_body",
    "drop",
    "envelope",
    "iso",
    "message_id",
    "millis",
]

#: A decoded JSON object (values of any JSON type).
Json = dict[str, Any]  # Any: JSON values

_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "str",
    bool: "bool",
    int: "int",
    float: "float",
    type(None): "null",
}


def decode_body(data: bytes) -> Reader:
    """The request body as a ``Reader`` on ``$``; raises ``DecodeError`` unless it is a JSON
    object."""
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"Invalid JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("JSON nesting is too deep") from None
    if not isinstance(value, dict):
        raise DecodeError(f"Expected `object`, got `{_name(value)}`")
    return Reader(value, "$")


def _name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Reader:
    """A JSON object and its path; typed getters raise ``DecodeError`` at the key's path."""

    __slots__ = ("path", "value")

    def __init__(self, value: Json, path: str) -> None:
        self.value = value
        self.path = path

    def _get(self, key: str, kinds: tuple[type, ...], expected: str) -> Any:  # Any: JSON
        value = self.value.get(key)
        if value is None:
            return None
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise DecodeError(f"Expected `{expected}`, got `{_name(value)}`", f"{self.path}.{key}")
        return value

    def text(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), "str")
        return value

    def number(self, key: str) -> float | None:
        value: int | float | None = self._get(key, (int, float), "int | float")
        if value is not None and not math.isfinite(value):
            raise DecodeError("Expected a finite number", f"{self.path}.{key}")
        return None if value is None else float(value)

    def flag(self, key: str) -> bool | None:
        value: bool | None = self._get(key, (bool,), "bool")
        return value

    def obj(self, key: str) -> Reader | None:
        value: Json | None = self._get(key, (dict,), "object")
        return None if value is None else Reader(value, f"{self.path}.{key}")

    def raw_obj(self, key: str) -> Json | None:
        """An object kept as it was sent (its content is not read here)."""
        value: Json | None = self._get(key, (dict,), "object")
        return value

    def objects(self, key: str) -> Iterator[tuple[int, Reader]]:
        """The objects of an array (other elements are skipped), with their index."""
        items: list[Any] | None = self._get(key, (list,), "array")  # Any: JSON values
        for index, item in enumerate(items or ()):
            if isinstance(item, dict):
                yield index, Reader(item, f"{self.path}.{key}[{index}]")

    def numbers(self, key: str) -> list[float]:
        """The numbers of an array (other elements are skipped)."""
        items: list[Any] | None = self._get(key, (list,), "array")  # Any: JSON values
        return [
            float(v)
            for v in items or ()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ]


def millis(value: float | None) -> int | None:
    """A number of milliseconds as an int (``None`` stays ``None``)."""
    return None if value is None else round(value)


def iso(epoch_ms: float) -> str:
    """ISO-8601 with milliseconds and ``Z``, as callhook writes ``startAt`` / ``endAt``."""
    try:
        moment = datetime.fromtimestamp(round(epoch_ms) / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        raise DecodeError(f"{epoch_ms} is not a time in epoch milliseconds") from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(text: str | None) -> int | None:
    """Epoch milliseconds of an ISO-8601 string, or ``None`` when it is not one."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def message_id(platform: str, role: str, at_ms: int | None, index: int, taken: set[str]) -> str:
    """A messageId stable across re-sends of a full history: ``<platform>-<role>-<ms>`` from
    the message's own time (``-n<index>`` when it has none), ``-2``, ``-3``… on a clash."""
    base = f"{platform}-{role}-{at_ms}" if at_ms is not None else f"{platform}-{role}-n{index}"
    found, suffix = base, 1
    while found in taken:
        suffix += 1
        found = f"{base}-{suffix}"
    taken.add(found)
    return found


def drop(value: Json, keys: Iterable[str]) -> Json:
    """``value`` without ``keys``."""
    skip = set(keys)
    return {k: v for k, v in value.items() if k not in skip}


def envelope(event: Json) -> bytes:
    """The request body of one callhook event."""
    return msgspec.json.encode({"message": {k: v for k, v in event.items() if v is not None}})
