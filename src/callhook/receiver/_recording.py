"""Call recordings in the dashboard: ``[dashboard] recording_url``, a template over the
end-of-call report's ``recording`` object (SPEC §3: ``{s3Bucket, path}``).

``"https://{s3Bucket}.s3.amazonaws.com/{path}"`` puts an audio player in the call view once a
report with a filled ``recording`` has arrived. Each ``{name}`` is replaced by that key of the
recording, percent-encoded (``/`` kept); a key that is missing or empty means no recording
yet. Off by default: without the setting no call has a player.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

from callhook._exceptions import ConfigError

__all__ = ["RecordingTemplate", "recording_of"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RecordingTemplate:
    """A checked ``recording_url`` template."""

    def __init__(self, template: str) -> None:
        if not isinstance(template, str) or not template:
            raise ConfigError("dashboard.recording_url must be a URL template (a string)")
        stripped = _PLACEHOLDER.sub("x", template)
        if "{" in stripped or "}" in stripped:
            raise ConfigError(
                f"dashboard.recording_url {template!r}: placeholders are {{name}} with a key of "
                "the report's recording object, e.g. https://{s3Bucket}.s3.amazonaws.com/{path}",
                setting="dashboard.recording_url",
            )
        parts = urlsplit(stripped)
        if not (parts.scheme in ("http", "https") and parts.netloc) and not (
            not parts.scheme and template.startswith("/") and not template.startswith("//")
        ):
            raise ConfigError(
                f"dashboard.recording_url {template!r} must be an http(s) URL or a path on this "
                "server starting with '/'",
                setting="dashboard.recording_url",
            )
        self.template = template
        self.keys = tuple(_PLACEHOLDER.findall(template))

    def fill(self, recording: dict[str, Any]) -> str | None:  # Any: JSON values
        """The recording's URL, or ``None`` when a key the template names is missing/empty."""
        values = {}
        for key in self.keys:
            value = recording.get(key)
            if not isinstance(value, str | int) or value == "":
                return None
            values[key] = quote(str(value), safe="/")
        return _PLACEHOLDER.sub(lambda m: values[m[1]], self.template)

    def media_source(self) -> str:
        """The Content-Security-Policy source the recordings load from: ``'self'`` for a
        path, the origin (a placeholder in the host's first label becomes ``*``) or, with a
        placeholder elsewhere in the host, the scheme."""
        if self.template.startswith("/"):
            return "'self'"
        parts = urlsplit(self.template)
        host = parts.netloc
        if "{" not in host:
            return f"{parts.scheme}://{host}"
        first, _, rest = host.partition(".")
        if _PLACEHOLDER.fullmatch(first) and rest and "{" not in rest:
            return f"{parts.scheme}://*.{rest}"
        return f"{parts.scheme}:"


class _Report(msgspec.Struct):
    recording: Any = None  # Any: any JSON value; only an object counts


_REPORT = msgspec.json.Decoder(_Report)


def recording_of(report: msgspec.Raw | None) -> dict[str, Any]:  # Any: JSON values
    """The ``recording`` object of a stored end-of-call report (``get_call``'s ``report``);
    ``{}`` when there is none (yet)."""
    if report is None:
        return {}
    try:
        found = _REPORT.decode(report).recording
    except msgspec.DecodeError:
        return {}
    return found if isinstance(found, dict) else {}
