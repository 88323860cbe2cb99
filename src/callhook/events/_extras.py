"""Keeping the keys of a payload that the models do not declare.

msgspec drops unknown keys when it builds a Struct. ``ExtrasIndex`` walks the decoded JSON tree
beside the Structs built from it and lists each object's unknown keys with the object's path;
the codec keeps that list on the envelope and writes the keys back at encode time. The walk
follows a plan computed once per root type from ``msgspec.inspect``, and only descends into
fields whose type contains Structs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import msgspec.inspect as mi

__all__ = ["ExtrasIndex", "Path"]

Path = tuple[str | int, ...]


@dataclass
class _StructPlan:
    known: frozenset[str] = frozenset()
    #: encode name -> (attribute name, plan of the value)
    children: dict[str, tuple[str, _Plan]] = field(default_factory=dict)


@dataclass
class _ListPlan:
    item: _Plan


@dataclass
class _DictPlan:
    value: _Plan


@dataclass
class _UnionPlan:
    by_class: dict[type, _StructPlan]


_Plan = _StructPlan | _ListPlan | _DictPlan | _UnionPlan


class ExtrasIndex:
    """Collects and finds unknown keys for the Struct tree of one root type."""

    def __init__(self, root: Any) -> None:
        self._cache: dict[type, _StructPlan] = {}
        plan = self._plan(mi.type_info(root))
        if plan is None:
            raise TypeError(f"{root!r} contains no Struct")
        self._root = plan

    def collect(self, tree: Any, obj: Any) -> list[tuple[Path, dict[str, Any]]]:
        """Every (path, unknown keys) of the JSON ``tree`` that ``obj`` was built from."""
        found: list[tuple[Path, dict[str, Any]]] = []
        self._collect(self._root, tree, obj, (), found)
        return found

    # -- plan ------------------------------------------------------------------------------

    def _plan(self, info: mi.Type) -> _Plan | None:
        if isinstance(info, mi.StructType):
            return self._struct_plan(info)
        if isinstance(info, mi.ListType):
            item = self._plan(info.item_type)
            return None if item is None else _ListPlan(item)
        if isinstance(info, mi.DictType):
            value = self._plan(info.value_type)
            return None if value is None else _DictPlan(value)
        if isinstance(info, mi.UnionType):
            plans = [self._plan(t) for t in info.types]
            real = [p for p in plans if p is not None]
            if not real:
                return None
            if len(real) == 1:
                return real[0]
            structs = [t for t in info.types if isinstance(t, mi.StructType)]
            return _UnionPlan({t.cls: self._struct_plan(t) for t in structs})
        return None

    def _struct_plan(self, info: mi.StructType) -> _StructPlan:
        cached = self._cache.get(info.cls)
        if cached is not None:
            return cached
        plan = _StructPlan()
        self._cache[info.cls] = plan  # before recursing: types may refer to themselves
        known = {f.encode_name for f in info.fields}
        if info.tag_field is not None:
            known.add(info.tag_field)
        plan.known = frozenset(known)
        for f in info.fields:
            child = self._plan(f.type)
            if child is not None:
                plan.children[f.encode_name] = (f.name, child)
        return plan

    # -- walks -----------------------------------------------------------------------------

    def _collect(
        self, plan: _Plan, tree: Any, obj: Any, path: Path, found: list[tuple[Path, dict[str, Any]]]
    ) -> None:
        if isinstance(plan, _UnionPlan):
            struct_plan = plan.by_class.get(type(obj))
            if struct_plan is not None:
                self._collect(struct_plan, tree, obj, path, found)
        elif isinstance(plan, _StructPlan):
            if not isinstance(tree, dict) or not isinstance(obj, msgspec.Struct):
                return
            if len(tree) > len(plan.known) or not plan.known.issuperset(tree):
                extra = {k: v for k, v in tree.items() if k not in plan.known}
                if extra:
                    found.append((path, extra))
            for name, (attr, child) in plan.children.items():
                value = tree.get(name)
                if value is not None:
                    self._collect(child, value, getattr(obj, attr), (*path, name), found)
        elif isinstance(plan, _ListPlan):
            if isinstance(tree, list) and isinstance(obj, list):
                for index, (item_tree, item) in enumerate(zip(tree, obj, strict=False)):
                    self._collect(plan.item, item_tree, item, (*path, index), found)
        elif isinstance(tree, dict) and isinstance(obj, dict):
            for key, value in tree.items():
                self._collect(plan.value, value, obj.get(key), (*path, key), found)
