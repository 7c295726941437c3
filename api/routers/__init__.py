"""One router per resource: runs, approvals, drafts, invoices, and the server itself (meta)."""
