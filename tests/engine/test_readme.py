"""The docs' call-session example (docs/emitting.md) runs and prints the events of a call."""

from __future__ import annotations

import pytest

from tests.conftest import REPO


def test_the_emitting_page_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    page = (REPO / "docs" / "emitting.md").read_text(encoding="utf-8")
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/emitting.md", "exec"), {"__name__": "docs"})
    assert capsys.readouterr().out.splitlines() == [
        "status-update initiated 0",
        "status-update ongoing 0",
        "conversation-update ongoing 1",
        "conversation-update ongoing 2",
        "conversation-update ongoing 3",
        "status-update finished 0",
        "end-of-call-report finished 3",
    ]
