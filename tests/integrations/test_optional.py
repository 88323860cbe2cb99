"""The frameworks are optional: callhook's core never imports them, and an adapter without its
framework says how to install it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A fresh interpreter where neither framework can be imported, as on a machine without them.
_BLOCK = textwrap.dedent(
    """
    import importlib.abc, sys

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pipecat", "livekit"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    """
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_callhook_imports_without_either_framework_and_never_loads_them() -> None:
    result = _python(
        """
        import sys
        import callhook, callhook.cli, callhook.delivery, callhook.engine, callhook.events
        import callhook.integrations, callhook.monitor, callhook.receiver, callhook.sim
        import callhook.store
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pipecat", "livekit"))
        print("loaded:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


@pytest.mark.parametrize(
    ("module", "extra"),
    [("callhook.integrations.pipecat", "pipecat"), ("callhook.integrations.livekit", "livekit")],
)
def test_an_adapter_without_its_framework_names_the_install_command(
    module: str, extra: str
) -> None:
    result = _python(f"import {module}")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert f"pip install 'callhook[{extra}]'" in result.stderr
