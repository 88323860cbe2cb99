"""Redaction at the door: personal data removed from events before the receiver stores,
logs, streams or shows them (``[redaction]`` in ``callhook serve``'s configuration).

Needs the ``redaction`` extra: ``pip install 'callhook[redaction]'``.
"""

from callhook.redaction._config import ENTITIES, NumberMode, RedactionConfig
from callhook.redaction._redactor import Redactor

__all__ = ["ENTITIES", "NumberMode", "RedactionConfig", "Redactor"]
