"""The receiver's settings: defaults, a TOML file, environment variables, command-line flags.

Precedence, highest first: flags given to ``callhook serve``, the environment
(``CALLHOOK_DATABASE_URL``, ``CALLHOOK_WEBHOOK_SECRET``, ``CALLHOOK_SIGNING_SECRET``,
``CALLHOOK_API_TOKEN``, and those of ``_endpoints.py``), the ``--config`` file, the defaults
below. Secrets are best given through the environment.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from callhook._exceptions import ConfigError
from callhook.monitor import MonitorConfig, MonitorConfigError
from callhook.monitor import load_config as load_monitor_config
from callhook.receiver._endpoints import ENV, PLATFORM_KEYS, PlatformEndpoint, endpoint_from_table
from callhook.receiver._ratelimit import parse_limit
from callhook.receiver._recording import RecordingTemplate
from callhook.receiver._retention import RetentionConfig
from callhook.redaction import RedactionConfig
from callhook.relay import RelayConfig
from callhook.store import DEFAULT_MAX_DEPTH, DEFAULT_URL

__all__ = ["AuthMode", "PlatformEndpoint", "ReceiverConfig", "load_config"]

_MIB = 1024 * 1024
_LOG_FORMATS = ("auto", "pretty", "json", "logfmt")
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,}")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AuthMode(enum.StrEnum):
    """How ``POST /webhook`` authenticates the sender."""

    #: The shared secret in ``x-interactly-secret`` (or ``X-INTERACTLY.AI-SECRET``).
    SECRET = "secret"
    #: Standard Webhooks signatures (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
    STANDARD_WEBHOOKS = "standard-webhooks"
    #: No authentication: allowed only when listening on a loopback address.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """Everything ``callhook serve`` can be told (docs/configuration.md)."""

    database_url: str = DEFAULT_URL
    host: str = "127.0.0.1"
    port: int = 8000
    webhook_path: str = "/webhook"
    max_body_bytes: int = 5 * _MIB
    max_depth: int = DEFAULT_MAX_DEPTH
    auth: AuthMode = AuthMode.NONE
    #: Shared secrets (mode ``secret``) or ``whsec_`` signing secrets; several allow rotation.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Tokens for the query API, live stream, dashboard and ``/metrics`` (several allow
    #: rotation); none: those are open, which is allowed only on a loopback address.
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    max_batch: int = 256
    log_level: str = "info"
    #: ``pretty``, ``json`` or ``logfmt`` when the command line has set up logging
    #: (``callhook._logging``): uvicorn then adds no handlers of its own and the monitor's
    #: child process logs the same way. ``None``: uvicorn's default logging.
    log_format: str | None = None
    #: Failed authentications allowed per client address (``limits`` notation, e.g.
    #: ``"30/minute"``); past it the address gets 429 with ``Retry-After``.
    auth_failure_limit: str = "30/minute"
    #: Seconds a client has to send a request's line and headers (else 408 and closed).
    header_timeout: float = 10.0
    #: Seconds a request body may stall between two reads (else the connection is closed).
    body_timeout: float = 30.0
    #: The ``[monitor]`` section of the config file (defaults when absent).
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    #: A name per API token, in the same order (``[api] tokens = {name = "token"}``); audit
    #: records name the token that asked. Tokens without one are ``token-1``, ``token-2``...
    api_token_names: tuple[str, ...] = ()
    #: The ``[retention]`` section (off when absent; docs/governance.md).
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    #: The ``[redaction]`` section (off when absent; docs/governance.md).
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    #: ``[dashboard] recording_url``: a template over the end-of-call report's ``recording``
    #: object that puts an audio player in the call view (off when absent; docs/dashboard.md).
    recording_url: str | None = None
    #: Vapi server messages (``[vapi]``; docs/vapi.md).
    vapi: PlatformEndpoint = field(default_factory=lambda: PlatformEndpoint("/webhook/vapi"))
    #: Retell webhooks (``[retell]``; docs/retell.md).
    retell: PlatformEndpoint = field(default_factory=lambda: PlatformEndpoint("/webhook/retell"))
    #: Receiver processes on the port (``serve --workers``); more than one needs PostgreSQL.
    workers: int = 1
    #: ``[[forward]]`` targets and ``[relay]`` (docs/relay.md): what is stored is also sent on.
    relay: RelayConfig = field(default_factory=RelayConfig)

    def token_names(self) -> tuple[str, ...]:
        """The name of each API token, by position."""
        given = self.api_token_names
        return tuple(
            given[i] if i < len(given) else f"token-{i + 1}" for i in range(len(self.api_tokens))
        )

    def _check_workers(self) -> None:
        workers = self.workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be 1 or more (got {workers!r})", setting="workers")
        scheme = self.database_url.split(":", 1)[0].split("+", 1)[0]
        if workers > 1 and scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time, "
                "so several workers would only take turns on its write lock and store no "
                "faster. Use one worker (the default) on SQLite, or give a PostgreSQL database "
                "(--db postgresql://user@host/dbname) to run several",
                setting="workers",
            )

    def check(self) -> None:
        """Raise ``ConfigError`` when the settings cannot be served safely."""
        if self.recording_url is not None:
            RecordingTemplate(self.recording_url)
        if self.log_format is not None and self.log_format not in _LOG_FORMATS:
            raise ConfigError(
                f"log_format must be one of: {', '.join(_LOG_FORMATS)}", setting="server.log_format"
            )
        if not self.webhook_path.startswith("/"):
            raise ConfigError("webhook path must start with '/'", setting="webhook.path")
        self._check_workers()
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024", setting="webhook")
        for name in ("header_timeout", "body_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds", setting="server")
        try:
            if parse_limit(self.auth_failure_limit).amount < 1:
                raise ValueError("no failure allowed")
        except (ValueError, TypeError):
            raise ConfigError(
                'failure_limit must be a rate such as "30/minute" or "5 per second" '
                f"(got {self.auth_failure_limit!r})",
                setting="auth.failure_limit",
            ) from None
        if not 4 <= self.max_depth <= 1000:
            raise ConfigError("max_depth must be between 4 and 1000", setting="webhook")
        if self.auth is not AuthMode.NONE and not self.secrets:
            env = (
                "CALLHOOK_WEBHOOK_SECRET"
                if self.auth is AuthMode.SECRET
                else ("CALLHOOK_SIGNING_SECRET")
            )
            raise ConfigError(
                f"auth mode {self.auth.value!r} needs at least one secret: set {env} "
                "or `secrets = [...]` under [auth] in the config file",
                setting="auth.secrets",
            )
        if self.auth is AuthMode.STANDARD_WEBHOOKS:
            for secret in self.secrets:
                _check_signing_secret(secret)
        if self.auth is AuthMode.NONE and not is_loopback(self.host):
            raise ConfigError(
                f"Refusing to listen on {self.host} without authentication: anyone who can "
                "reach it could write calls. Set CALLHOOK_WEBHOOK_SECRET=<shared secret> (the "
                "x-interactly-secret header), or CALLHOOK_SIGNING_SECRET=whsec_... (Standard "
                "Webhooks), or [auth] mode/secrets in the --config file; or bind to 127.0.0.1.",
                setting="auth.mode",
            )
        for name in self.api_token_names:
            if not _TOKEN_NAME.fullmatch(name):
                raise ConfigError(
                    f"API token name {name!r}: use 1-64 characters of A-Z, a-z, 0-9, '-', '_', '.'",
                    setting="api.tokens",
                )
        if len(set(self.token_names())) < len(self.api_tokens):
            raise ConfigError(
                "Two API tokens have the same name: audit records could not tell them apart",
                setting="api.tokens",
            )
        self.redaction.check()
        self._check_platforms()
        for token in self.api_tokens:
            if not _TOKEN.fullmatch(token):
                raise ConfigError(
                    "An API token must be at least 16 characters of A-Z, a-z, 0-9, '-', '_', "
                    "'.', '~' (make one with: python -c \"import secrets; "
                    'print(secrets.token_urlsafe(32))")',
                    setting="api.tokens",
                )
        if not self.api_tokens and not is_loopback(self.host):
            raise ConfigError(
                f"Refusing to listen on {self.host} without an API token: anyone who can reach "
                "it could read every call through the query API and the dashboard. Set "
                'CALLHOOK_API_TOKEN=<token> (make one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"), or `tokens = [...]` under [api] in the '
                "--config file; or bind to 127.0.0.1.",
                setting="api.tokens",
            )

    def _check_platforms(self) -> None:
        paths = {self.webhook_path}
        for name, endpoint in (("vapi", self.vapi), ("retell", self.retell)):
            if not endpoint.path.startswith("/") or endpoint.path in paths:
                raise ConfigError(
                    f"{name}.path must start with '/' and differ from the other webhook paths",
                    setting=f"{name}.path",
                )
            paths.add(endpoint.path)
            if endpoint.enabled and not endpoint.has_auth and not is_loopback(self.host):
                variables = " or ".join(v for v, (section, _) in ENV.items() if section == name)
                raise ConfigError(
                    f"Refusing to serve {endpoint.path} on {self.host} without {name} "
                    f"authentication: anyone who can reach it could write calls. Set "
                    f"{variables}, or the secrets under [{name}] in the --config file; or "
                    "bind to 127.0.0.1.",
                    setting=f"{name}.enabled",
                )


def _check_signing_secret(secret: str) -> None:
    try:
        Webhook(secret)
    except (ValueError, binascii.Error, EmptyWebhookSecretError):
        raise ConfigError(
            "A Standard Webhooks signing secret must be base64, optionally prefixed whsec_ "
            "(for example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)",
            setting="auth.secrets",
        ) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,  # keyword names of ReceiverConfig fields; None values are ignored
) -> ReceiverConfig:
    """Build the configuration from a TOML file, the environment and explicit overrides."""
    values: dict[str, Any] = {}  # Any: settings of mixed types, checked by ReceiverConfig
    if path is not None:
        values.update(_from_file(Path(path)))
    env = os.environ if environ is None else environ
    if env.get("CALLHOOK_DATABASE_URL"):
        values["database_url"] = env["CALLHOOK_DATABASE_URL"]
    if env.get("CALLHOOK_WEBHOOK_SECRET"):
        values["auth"], values["secrets"] = AuthMode.SECRET, _split(env["CALLHOOK_WEBHOOK_SECRET"])
    elif env.get("CALLHOOK_SIGNING_SECRET"):
        values["auth"] = AuthMode.STANDARD_WEBHOOKS
        values["secrets"] = _split(env["CALLHOOK_SIGNING_SECRET"])
    if env.get("CALLHOOK_API_TOKEN"):
        values["api_tokens"], values["api_token_names"] = _env_tokens(env["CALLHOOK_API_TOKEN"])
    for variable, (section, attribute) in ENV.items():
        if env.get(variable):
            values.setdefault(section, {})[attribute] = _split(env[variable])
    if env.get("CALLHOOK_REDACTION_KEY"):
        values["redaction"] = dataclasses.replace(
            values.get("redaction", RedactionConfig()), key=env["CALLHOOK_REDACTION_KEY"]
        )
    known = {f.name for f in dataclasses.fields(ReceiverConfig)}
    for key, value in overrides.items():
        if key not in known:
            raise TypeError(f"load_config() got an unknown setting {key!r}")
        if value is not None:
            values[key] = value
    if "auth" in values:
        try:
            values["auth"] = AuthMode(values["auth"])
        except ValueError:
            names = ", ".join(m.value for m in AuthMode)
            raise ConfigError(f"auth mode must be one of: {names}", setting="auth.mode") from None
    if values.get("secrets") and "auth" not in values:
        values["auth"] = AuthMode.SECRET
    values["secrets"] = tuple(values.get("secrets", ()))
    tokens = values.get("api_tokens", ())
    if isinstance(tokens, dict):
        values["api_tokens"], values["api_token_names"] = _named_tokens(tokens)
    values["api_tokens"] = tuple(values.get("api_tokens", ()))
    for section in PLATFORM_KEYS:
        if isinstance(values.get(section), dict):
            values[section] = endpoint_from_table(section, values[section])
    return ReceiverConfig(**values)


def _env_tokens(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``name=token,token2,...``: tokens, each optionally named (else ``token-<n>``)."""
    tokens, names = [], []
    for i, part in enumerate(_split(text)):
        name, named, token = part.rpartition("=")
        tokens.append(token.strip())
        names.append(name.strip() if named and name.strip() else f"token-{i + 1}")
    return tuple(tokens), tuple(names)


def _named_tokens(named: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tokens and their names from ``{name: token}``; an empty name gets ``token-<n>``."""
    tokens = tuple(str(token) for token in named.values())
    names = tuple(name or f"token-{i + 1}" for i, name in enumerate(named))
    return tokens, names


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


_FILE_KEYS = {
    ("database", "url"): "database_url",
    ("server", "host"): "host",
    ("server", "port"): "port",
    ("server", "log_level"): "log_level",
    ("server", "log_format"): "log_format",
    ("server", "header_timeout"): "header_timeout",
    ("server", "body_timeout"): "body_timeout",
    ("server", "workers"): "workers",
    ("webhook", "path"): "webhook_path",
    ("webhook", "max_body_bytes"): "max_body_bytes",
    ("webhook", "max_depth"): "max_depth",
    ("webhook", "max_batch"): "max_batch",
    ("auth", "mode"): "auth",
    ("auth", "secrets"): "secrets",
    ("auth", "failure_limit"): "auth_failure_limit",
    ("api", "tokens"): "api_tokens",
    ("dashboard", "recording_url"): "recording_url",
}


def _from_file(path: Path) -> dict[str, Any]:  # Any: TOML values
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}  # Any: TOML values
    forward, relay = document.pop("forward", None), document.pop("relay", None)
    if forward is not None or relay is not None:
        values["relay"] = RelayConfig.from_file(forward, relay, str(path))
    for section, parse in (("retention", RetentionConfig), ("redaction", RedactionConfig)):
        table = document.pop(section, None)
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: expected a [{section}] table", setting=section)
            values[section] = parse.from_table(table, str(path))
    if "monitor" in document:
        try:
            values["monitor"] = load_monitor_config(document)
        except MonitorConfigError as exc:
            raise MonitorConfigError(exc.reason, exc.path, source=str(path)) from None
    for section, table in document.items():
        if section == "monitor":
            continue
        if section in PLATFORM_KEYS and isinstance(table, dict):
            values[section] = dict(table)
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: expected a [section], got {section!r}", setting=section)
        for key, value in table.items():
            name = _FILE_KEYS.get((section, key))
            if name is None:
                raise ConfigError(f"{path}: unknown setting {section}.{key}", setting=section)
            values[name] = value
    return values
