"""Building blocks shared by every wire model."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["UNSET", "Int64", "Number", "Opt", "UnsetType", "WireModel", "extra_fields"]

T = TypeVar("T")

#: A JSON integer that fits a signed 64-bit column.
Int64: TypeAlias = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: Metrics may be negative or fractional anywhere; ints stay ints on re-encode.
Number: TypeAlias = Int64 | float
#: An optional wire field: absent (``UNSET``, omitted on encode), ``null`` or a value.
Opt: TypeAlias = T | UnsetType | None


class WireModel(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", dict=True, repr_omit_defaults=True
):
    """Base of every wire object: camelCase on the wire, every field optional unless stated.

    Keys the model does not know are kept aside at decode time (see ``extra_fields``) and
    written back by ``encode``, so a decode/encode round trip gives equal JSON.
    """


def extra_fields(obj: WireModel) -> dict[str, Any]:
    """The keys of ``obj``'s JSON object that its model does not declare (empty if none)."""
    extra: dict[str, Any] = obj.__dict__.get("_extra", {})
    return extra
