"""The receiver's database: schema, migrations, ingest with group commit, and queries.

SQLAlchemy 2 Core over SQLite (embedded default, WAL) or PostgreSQL (psycopg 3), same code.
``parse_event`` turns request bytes into an ``Incoming`` event; ``Store.ingest`` stores it
(each message once per call, call state merged monotonically) and returns after the commit;
the ``list_*`` / ``get_call`` query functions run through ``Store.read``. The monitor's
tables (alert history, hang impacts, sentiment) are written with ``Store.write`` and the
``save_*`` functions, off the ingest path.
"""

from callhook.store._engine import DEFAULT_URL, make_engine, normalize_url, write_transaction
from callhook.store._erasure import (
    Erased,
    erase_calls,
    erase_user_number,
    list_erasures,
    remove_calls,
)
from callhook.store._export import (
    EXPORT_TABLES,
    ExportColumn,
    ExportPage,
    count_calls,
    export_pages,
)
from callhook.store._merge import STATUS_RANK, CallState, merge
from callhook.store._migrate import head_revision, upgrade
from callhook.store._monitoring import (
    alert_rows,
    get_sentiment,
    list_alerts,
    list_hang_impacts,
    pattern_inputs,
    save_alerts,
    save_hang_impacts,
    save_sentiment,
)
from callhook.store._overview import first_call_since, live_figures, overview
from callhook.store._parse import DEFAULT_MAX_DEPTH, Incoming, parse_event
from callhook.store._queries import (
    CallFilter,
    InvalidCursor,
    Page,
    get_call,
    list_calls,
    list_errors,
    list_events,
    list_hangs,
    list_messages,
    list_unattributed,
)
from callhook.store._retention import DAY_MS, Cutoffs, Purger, PurgeStep, purge
from callhook.store._schema import metadata
from callhook.store._store import Store
from callhook.store._timeseries import (
    LATENCY_STAGES,
    SeriesFilter,
    dimensions,
    latency_series,
    rate_series,
)
from callhook.store._writer import CommitHook, Outcome, Writer

__all__ = [
    "DAY_MS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_URL",
    "EXPORT_TABLES",
    "LATENCY_STAGES",
    "STATUS_RANK",
    "CallFilter",
    "CallState",
    "CommitHook",
    "Cutoffs",
    "Erased",
    "ExportColumn",
    "ExportPage",
    "Incoming",
    "InvalidCursor",
    "Outcome",
    "Page",
    "PurgeStep",
    "Purger",
    "SeriesFilter",
    "Store",
    "Writer",
    "alert_rows",
    "count_calls",
    "dimensions",
    "erase_calls",
    "erase_user_number",
    "export_pages",
    "first_call_since",
    "get_call",
    "get_sentiment",
    "head_revision",
    "latency_series",
    "list_alerts",
    "list_calls",
    "list_erasures",
    "list_errors",
    "list_events",
    "list_hang_impacts",
    "list_hangs",
    "list_messages",
    "list_unattributed",
    "live_figures",
    "make_engine",
    "merge",
    "metadata",
    "normalize_url",
    "overview",
    "parse_event",
    "pattern_inputs",
    "purge",
    "rate_series",
    "remove_calls",
    "save_alerts",
    "save_hang_impacts",
    "save_sentiment",
    "upgrade",
    "write_transaction",
]
