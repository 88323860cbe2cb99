"""callhook: call webhooks for voice-AI assistants, both ends of the wire."""

from callhook._exceptions import CallhookError, DecodeError

__all__ = ["CallhookError", "DecodeError", "__version__"]

__version__ = "0.1.0"
