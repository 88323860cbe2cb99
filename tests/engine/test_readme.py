"""The README's "Emitting events" example runs and prints the events of a whole call."""

from __future__ import annotations

import pytest

from tests.conftest import REPO


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (REPO / "README.md").read_text()
    code = readme.split("## Emitting events", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == [
        "status-update initiated 0",
        "status-update ongoing 0",
        "conversation-update ongoing 1",
        "conversation-update ongoing 2",
        "conversation-update ongoing 3",
        "status-update finished 0",
        "end-of-call-report finished 3",
    ]
