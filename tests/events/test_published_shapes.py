"""Cross-check: our sample payloads carry the key paths and JSON types of the published examples.

The published Interactly examples live beside the repository (``../shared/fixtures/interactly``,
or the folder in ``CALLHOOK_FIXTURES``), not in it; without them these tests skip and say so.
Each published example has a sample of the same name with exactly its key paths and types; the
samples that have no published counterpart (trimmed variants) use only key paths and types that
the published examples of their event type show.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES, sample_files

PUBLISHED = Path(
    os.environ.get("CALLHOOK_FIXTURES", REPO.parent / "shared" / "fixtures" / "interactly")
)

Shape = frozenset[tuple[str, str]]


def json_type(value: object) -> str:
    """The JSON type of a decoded value (integers and fractions are both ``number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def shape(value: object, path: str = "$") -> Shape:
    """Every ``(key path, JSON type)`` in ``value``; array elements share the path ``[]``."""
    found = {(path, json_type(value))}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= shape(item, f"{path}[]")
    return frozenset(found)


def file_shape(path: Path) -> Shape:
    return shape(json.loads(path.read_bytes()))


def published_files() -> list[Path]:
    files = sorted(PUBLISHED.glob("*.json"))
    if not files and os.environ.get("CI"):
        raise RuntimeError(f"no published examples in {PUBLISHED}; set CALLHOOK_FIXTURES")
    return files


SKIP_REASON = (
    f"published Interactly examples not found in {PUBLISHED} (set CALLHOOK_FIXTURES); "
    "the samples in tests/samples are checked against them when present"
)


def published_params() -> list[object]:
    files = published_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON), id="no-published")]
    return [pytest.param(f, id=f.name) for f in files]


def event_type(path: Path) -> str:
    return path.name.split(".", 1)[0]


def test_shape_names_paths_and_types() -> None:
    body = {"m": {"n": 1, "f": 0.5, "l": [{"a": None}, {"a": "x", "b": True}], "e": {}}}
    assert shape(body) == {
        ("$", "object"),
        ("$.m", "object"),
        ("$.m.n", "number"),
        ("$.m.f", "number"),
        ("$.m.l", "array"),
        ("$.m.l[]", "object"),
        ("$.m.l[].a", "null"),
        ("$.m.l[].a", "string"),
        ("$.m.l[].b", "boolean"),
        ("$.m.e", "object"),
    }


@pytest.mark.parametrize("published", published_params())
def test_the_sample_of_the_same_name_has_the_same_key_paths_and_types(published: Path) -> None:
    sample = SAMPLES / published.name
    assert sample.is_file(), f"write tests/samples/{published.name} to the published shape"
    ours, theirs = file_shape(sample), file_shape(published)
    assert sorted(theirs - ours) == [], "key paths/types the sample lacks"
    assert sorted(ours - theirs) == [], "key paths/types the published example does not have"


def test_other_samples_use_only_published_key_paths_and_types() -> None:
    """The trimmed variants (no published counterpart) stay within the published shapes."""
    files = published_files()
    if not files:
        pytest.skip(SKIP_REASON)
    known: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in files:
        known[event_type(path)] |= file_shape(path)
    names = {path.name for path in files}
    extras = [path for path in sample_files() if path.name not in names]
    assert extras, "the trimmed variants (no published counterpart) are checked here"
    for path in extras:
        unknown = file_shape(path) - known[event_type(path)]
        assert sorted(unknown) == [], f"{path.name} has key paths/types no published example has"
