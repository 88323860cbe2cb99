"""The receiver's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Every table lives on ``metadata``; another module (the delivery outbox) defines its own tables
on the same ``metadata`` in its own module and adds its own Alembic revision after ours, so
one ``callhook db upgrade`` creates everything.

Sizes are kept linear in the conversation: each message is one row (its compact JSON), an
event's body is kept only without its ``messages`` and ``assistant`` (the assistant object is
stored once per distinct content in ``assistants``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

__all__ = [
    "EVENT_CODES",
    "EVENT_NAMES",
    "arrivals",
    "assistants",
    "calls",
    "errors",
    "hangs",
    "messages",
    "metadata",
    "status_history",
    "unattributed",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: ``arrivals.type``: event type to a small code, and back.
EVENT_CODES = {
    "status-update": 1,
    "conversation-update": 2,
    "end-of-call-report": 3,
    "hang": 4,
    "error": 5,
}
EVENT_NAMES = {code: name for name, code in EVENT_CODES.items()}

#: BIGINT on PostgreSQL, INTEGER (the rowid alias, so autoincrementing) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

#: One row per call: the monotonic merge of every event's ``call`` object.
calls = Table(
    "calls",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_id", String, nullable=False, unique=True),
    Column("assistant_id", String),
    Column("status", String),
    Column("status_rank", Integer, nullable=False, default=-1),
    Column("status_ts", BigInteger),
    # Earliest and latest event timestamps seen (epoch ms).
    Column("first_ts", BigInteger),
    Column("last_ts", BigInteger),
    # Merged call fields as a JSON object, and per key the timestamp of the event that set it.
    Column("fields", Text, nullable=False),
    Column("field_ts", Text, nullable=False),
    Column("assistant_digest", String),
    Column("assistant_ts", BigInteger),
    # End-of-call report (analysis, cost, metrics, recording, endAt) of the newest report event.
    Column("report", Text),
    Column("report_ts", BigInteger),
    Column("message_count", Integer, nullable=False, default=0),
    Column("hang_count", Integer, nullable=False, default=0),
    Column("error_count", Integer, nullable=False, default=0),
    Column("event_count", Integer, nullable=False, default=0),
    Column("duplicate_count", Integer, nullable=False, default=0),
    # Bumped by every write (under the row lock): lets a writer trust its cache of the call.
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "first_ts", "pk"),
    Index(None, "assistant_id", "first_ts"),
)

#: One row per ``(call, messageId)``, first delivery wins; ``body`` is the compact JSON.
messages = Table(
    "messages",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("call_pk", Id, ForeignKey("calls.pk", ondelete="CASCADE"), nullable=False),
    Column("message_id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("ts", BigInteger),
    Column("role", String),
    # The message's compact JSON, compressed (see _blob.py).
    Column("body", LargeBinary, nullable=False),
    # A late response (``metrics.hang``): the user message it answers and how long it took.
    Column("hang_reply_to", String),
    Column("hang_waited_ms", BigInteger),
    # Whether a conversation-update has carried the message yet (false while it has come only
    # in a hang, an error or the report): the relay's ``messages = "new"`` sends it with the
    # first conversation-update that does.
    Column("in_update", Boolean, nullable=False, server_default=true()),
    UniqueConstraint("call_pk", "message_id"),
)

#: One row per distinct event (by body digest) of a call, with its re-delivery count.
arrivals = Table(
    "arrivals",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_pk", Id, ForeignKey("calls.pk", ondelete="CASCADE"), nullable=False),
    # The first 8 bytes of the body's SHA-256, as a signed 64-bit integer.
    Column("digest", BigInteger, nullable=False),
    # EVENT_CODES: 1 status-update, 2 conversation-update, 3 end-of-call-report, 4 hang, 5 error.
    Column("type", SmallInteger, nullable=False),
    Column("event_ts", BigInteger),
    Column("received_at", BigInteger, nullable=False),
    Column("last_received_at", BigInteger, nullable=False),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("late", Boolean, nullable=False),
    Column("new_messages", Integer, nullable=False),
    Column("message_count", Integer, nullable=False),
    # Non-conversation events: the body without ``messages`` and ``assistant`` (_blob.py).
    Column("body", LargeBinary),
    Column("assistant_digest", String(32)),
    UniqueConstraint("call_pk", "digest"),
)

#: Each status a call went through, with the earliest event timestamp that reported it.
status_history = Table(
    "status_history",
    metadata,
    Column("call_pk", Id, ForeignKey("calls.pk", ondelete="CASCADE"), primary_key=True),
    Column("status", String, primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
)

#: Assistant objects, stored once per distinct content.
assistants = Table(
    "assistants",
    metadata,
    Column("digest", String(32), primary_key=True),
    Column("assistant_id", String),
    Column("name", String),
    Column("body", Text, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
)

hangs = Table(
    "hangs",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_pk", Id, ForeignKey("calls.pk", ondelete="CASCADE"), nullable=False),
    Column("event_ts", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("assistant_id", String),
    Column("pending_message_id", String),
    Column("waited_ms", BigInteger),
    Column("threshold_ms", BigInteger),
    Column("stage", String),
    Column("message_count", Integer, nullable=False),
    Column("hang", Text),
    # Recovery: the late response to the pending message, when it arrived.
    Column("recovered_message_id", String),
    Column("recovered_ms", BigInteger),
    UniqueConstraint("call_pk", "event_ts"),
    Index(None, "event_ts"),
)

errors = Table(
    "errors",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_pk", Id, ForeignKey("calls.pk", ondelete="CASCADE"), nullable=False),
    Column("event_ts", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("assistant_id", String),
    Column("error_type", String, nullable=False),
    Column("code", String, nullable=False),
    Column("provider", String),
    Column("retryable", Boolean),
    Column("message", Text),
    Column("error", Text),
    UniqueConstraint("call_pk", "event_ts", "error_type", "code"),
    Index(None, "event_ts"),
)

#: Events that carry no ``call`` (trimmed documentation examples): kept whole, listed apart.
unattributed = Table(
    "unattributed",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("digest", BigInteger, nullable=False, unique=True),
    Column("type", String, nullable=False),
    Column("event_ts", BigInteger),
    Column("received_at", BigInteger, nullable=False),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("body", Text, nullable=False),
)
