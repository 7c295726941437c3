"""Plain-text rendering of a draft for a person at a terminal."""

from __future__ import annotations

from tools.drafts import Draft
from tools.money import format_money, format_quantity


def render_draft(draft: Draft) -> str:
    """A readable draft: header, lines, totals, then held, flagged and excluded entries with reasons."""
    out = [
        f"Draft invoice {draft.invoice_number} (number proposed) for {draft.client_name} ({draft.client})",
        f"Period {draft.period_start} to {draft.period_end} · issue {draft.issue_date} · due {draft.due_date}"
        f" · {draft.currency} · {draft.billing_model}",
        "",
    ]
    if draft.is_empty:
        out.append("  Nothing to invoice for this period" + (
            " (no milestone completed)." if draft.billing_model == "fixed" else "."))
    else:
        width = max(28, *(len(ln.description) for ln in draft.lines))
        width = min(width, 60)
        out.append(f"  {'Description':<{width}} {'Code':<10} {'Qty':>8} {'Unit price':>11} {'Amount':>12}")
        for ln in draft.lines:
            desc = ln.description if len(ln.description) <= width else ln.description[: width - 1] + "…"
            out.append(
                f"  {desc:<{width}} {ln.code or '':<10} {format_quantity(ln.quantity):>8} "
                f"{format_quantity(ln.unit_price):>11} {format_money(ln.amount):>12}"
            )
        pad = width + 33
        out.append("")
        for label, value in (("Subtotal", draft.subtotal), ("Discount", draft.discount),
                             ("Cap adjustment", draft.cap_adjustment), ("Tax", draft.tax)):
            if label == "Subtotal" or value:
                out.append(f"  {label:>{pad}} {format_money(value):>12}")
        out.append(f"  {'Total':>{pad}} {format_money(draft.total):>12} {draft.currency}")
    held = [a for a in draft.anomalies if a.held]
    flagged = [a for a in draft.anomalies if not a.held]
    for title, items in (("Held: kept off the draft until a person decides", held),
                         ("Flagged: billed, but worth a look", flagged)):
        if items:
            out += ["", f"{title} ({len(items)}):"]
            out += [f"  {a.entry_id:<10} {a.kind:<20} {a.message}" for a in items]
    if draft.excluded:
        out += ["", f"Excluded ({len(draft.excluded)}):"]
        by_reason: dict[str, list[str]] = {}
        for x in draft.excluded:
            by_reason.setdefault(x.reason, []).append(x.entry_id)
        for reason, ids in by_reason.items():
            shown = ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")
            out.append(f"  {reason}: {shown}")
    return "\n".join(out)
