"""The status line ``callhook serve`` and ``callhook demo`` keep at the bottom of a terminal.

A thread reads the receiver's ``GET /api/live`` once a second and shows it in rich's live
display: calls live, events per second, hangs and errors of the last hour, open alerts. While it
runs, everything written to ``sys.stderr`` / ``sys.stdout`` (the log lines) prints above it.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.live import Live
from rich.text import Text

__all__ = ["StatusLine", "status_text"]


def status_text(figures: dict[str, Any] | None) -> Text:  # Any: JSON values
    """One line: ``● 3 calls live · 41.2 events/s · 5 hangs · 1 error · 2 alerts open``."""
    if figures is None:
        return Text("○ waiting for the receiver…", style="dim")
    hangs, errors = figures.get("hangsLastHour", 0), figures.get("errorsLastHour", 0)
    alerts = figures.get("openAlerts", 0)
    line = Text("● ", style="green")
    line.append(f"{figures.get('ongoingCalls', 0)} calls live", style="bold")
    line.append(f" · {figures.get('eventsPerSecond', 0):.1f} events/s")
    line.append(f" · {hangs} hang{'' if hangs == 1 else 's'}", style="yellow" if hangs else "")
    line.append(f" · {errors} error{'' if errors == 1 else 's'}", style="red" if errors else "")
    line.append(" (last hour)", style="dim")
    line.append(
        f" · {alerts} alert{'' if alerts == 1 else 's'} open", style="red" if alerts else ""
    )
    return line


class StatusLine:
    """``with StatusLine(base_url, token):`` shows the status line until the block ends."""

    def __init__(self, base_url: str, token: str | None = None, *, interval_s: float = 1.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.interval_s = interval_s
        self._live = Live(
            status_text(None),
            console=Console(stderr=True),
            refresh_per_second=4,
            transient=True,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="callhook-status", daemon=True)

    def __enter__(self) -> Self:
        self._live.start()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._live.stop()

    def _poll(self) -> None:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(f"{self.base_url}/api/live", headers=headers)
        while not self._stop.is_set():
            figures: Any = None  # Any: the decoded JSON of /api/live
            try:  # stdlib: one small GET a second needs no client library
                with urllib.request.urlopen(request, timeout=2.0) as response:
                    figures = json.loads(response.read())
            except (OSError, ValueError):  # not answering, an HTTP error, or not JSON
                figures = None
            self._live.update(status_text(figures))
            self._stop.wait(self.interval_s)
