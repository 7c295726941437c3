"""Connectors: one module per outside system, each behind a small Protocol.

    ledger.py        `Ledger` (push an invoice, send it, read its status) and `LedgerRef`
    local_ledger.py  `LocalLedger`, the embedded default: PDFs and JSON on disk, emails to an outbox

Import the module you need (`from tools.connectors.local_ledger import LocalLedger`); this package
imports nothing, so using one connector never loads another's SDK.
"""
