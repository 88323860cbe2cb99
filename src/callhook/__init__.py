"""callhook: call webhooks for voice-AI assistants, both ends of the wire."""

from callhook._exceptions import (
    CallhookError,
    ConfigError,
    DecodeError,
    StorageError,
    VerificationError,
)

__all__ = [
    "CallhookError",
    "ConfigError",
    "DecodeError",
    "StorageError",
    "VerificationError",
    "__version__",
]

__version__ = "0.1.0"
