"""Persistence: runs, drafts, the approval inbox (and lock), the audit log, issued invoices, and the
categories people confirmed (learned labels, `tools.store.labels`).

SQLAlchemy 2.0 over SQLite (the embedded default) or PostgreSQL (production), with Alembic migrations
shipped in this package: `Store(url).migrate()` creates or upgrades the schema, no alembic.ini needed.

    store = Store("sqlite:///invoice-agent.db")   # or "postgresql+psycopg://user@host:5432/db"
    store.migrate()
    run = store.create_run("parallax", "invoice Acme for March")

Every method is one transaction and returns immutable records (`tools.store.records`), never ORM rows.
"""

# Every table on the one metadata, so migrations and models agree however the package is imported.
from tools.store import collections_models as _collections_models  # noqa: F401
from tools.store import jobs as _jobs  # noqa: F401
from tools.store import labels as _labels  # noqa: F401
from tools.store import tokens as _tokens  # noqa: F401
from tools.store.errors import (
    AlreadyBilledError,
    DatabaseUnavailableError,
    InvalidTransitionError,
    NothingToInvoiceError,
    RecordNotFoundError,
    RunAlreadyActiveError,
    StoreError,
)
from tools.store.labels import LearnedLabel, with_learned_labels
from tools.store.records import (
    ActiveWork,
    ApprovalRecord,
    ApprovalStatus,
    DecisionRecord,
    DraftRecord,
    InvoiceEntryRecord,
    InvoiceRecord,
    InvoiceRecordStatus,
    RunRecord,
)
from tools.store.store import DEFAULT_URL, Store

__all__ = [
    "DEFAULT_URL",
    "ActiveWork",
    "AlreadyBilledError",
    "ApprovalRecord",
    "ApprovalStatus",
    "DatabaseUnavailableError",
    "DecisionRecord",
    "DraftRecord",
    "InvalidTransitionError",
    "InvoiceEntryRecord",
    "InvoiceRecord",
    "InvoiceRecordStatus",
    "LearnedLabel",
    "NothingToInvoiceError",
    "RecordNotFoundError",
    "RunAlreadyActiveError",
    "RunRecord",
    "Store",
    "StoreError",
    "with_learned_labels",
]
