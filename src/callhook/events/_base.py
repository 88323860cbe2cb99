"""Building blocks shared by every wire model."""

from __future__ import annotations

from typing import Annotated, TypeAlias, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["UNSET", "Int64", "Number", "Opt", "UnsetType", "WireModel"]

T = TypeVar("T")

#: A JSON integer that fits a signed 64-bit column.
Int64: TypeAlias = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: Metrics may be negative or fractional anywhere; ints stay ints on re-encode.
Number: TypeAlias = Int64 | float
#: An optional wire field: absent (``UNSET``, omitted on encode), ``null`` or a value.
Opt: TypeAlias = T | UnsetType | None


class WireModel(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False, repr_omit_defaults=True
):
    """Base of every wire object: camelCase on the wire, every field optional unless stated.

    Wire objects are trees, never cycles, so they are not tracked by the garbage collector
    (``gc=False``): an emitter holding thousands of live calls pays no collection pauses for
    them. Keys the models do not know are kept on the envelope (see ``unknown_keys``).
    """
