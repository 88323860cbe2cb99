"""Export of the receiver's calls for analytics: calls, messages with their metrics, hangs and
errors, one file per table, in JSON Lines, CSV or Parquet (``callhook export``).

Parquet needs the ``export`` extra: ``pip install 'callhook[export]'``.
"""

from callhook.export._run import ExportResult, count_calls, export
from callhook.export._writers import Format
from callhook.store import EXPORT_TABLES as TABLES

__all__ = ["TABLES", "ExportResult", "Format", "count_calls", "export"]
