"""Run an eval on a workspace and report it: a table, the worst misses with their reasons, and JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from evals.metrics import Scores, score
from evals.replay import Drafter, engine_drafter, replay
from tools.domain import Workspace
from tools.workspace import load_workspace


def evaluate(workspace: Workspace | str | Path, drafter: Drafter = engine_drafter, *, model: str = "offline") -> \
        dict[str, Any]:
    """Replay and score a workspace; everything as JSON-plain data."""
    ws = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
    scores = score(ws, replay(ws, drafter))
    return {"workspace": ws.settings.firm, "root": ws.root, "model": model, "summary": scores.summary(),
            "worst": worst_misses(scores), "invoices": scores.per_invoice, "payment_misses": scores.payment_misses}


def worst_misses(scores: Scores, limit: int = 5) -> list[dict[str, Any]]:
    """The invoices furthest from what was billed (by absolute difference, then by how much else is off)."""
    def badness(row: dict[str, Any]) -> tuple[Decimal, int]:
        others = len(row["entries_missing"]) + len(row["entries_extra"]) + len(row["anomalies_missed"]) + \
            len(row["anomalies_extra"])
        return abs(Decimal(row["difference"])), others

    missed = [row for row in scores.per_invoice if badness(row) != (Decimal(0), 0)]
    return sorted(missed, key=badness, reverse=True)[:limit]


def _pct(value: float) -> str:
    return f"{value * 100:5.1f} %"


def render(result: dict[str, Any], *, misses: int = 5, entries_each: int = 3) -> str:
    """The table, then the worst misses with the reason for each (which entries, rule, category)."""
    s = result["summary"]
    rows = [
        ("invoices replayed", str(s["invoices"])),
        ("totals exact to the cent", f"{_pct(s['totals_exact_share'])}  ({s['totals_exact']}/{s['invoices']})"),
        ("lines P / R / F1", f"{_pct(s['lines']['precision'])} / {_pct(s['lines']['recall'])} / "
                             f"{_pct(s['lines']['f1'])}"),
        ("entry categories right", f"{_pct(s['category_accuracy'])}  ({s['categories_scored']} billed entries)"),
        ("held entries P / R", f"{_pct(s['held']['precision'])} / {_pct(s['held']['recall'])}"),
        ("anomalies P / R", f"{_pct(s['anomalies']['precision'])} / {_pct(s['anomalies']['recall'])}"),
    ]
    rows += [(f"  {kind}", f"{_pct(c['precision'])} / {_pct(c['recall'])}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})")
             for kind, c in s["anomalies_by_kind"].items()]
    rows.append(("payments matched", f"{_pct(s['payment_accuracy'])}  ({s['payments']} payments)"))
    width = max(len(name) for name, _ in rows)
    out = [f"Eval of {result['workspace']} ({result['model']} model)", ""]
    out += [f"{name.ljust(width)}  {value}" for name, value in rows]
    worst = result["worst"][:misses]
    if worst:
        out += ["", "Worst misses:"]
    for row in worst:
        out.append(f"- {row['invoice_number']} {row['client']} ({row['billing_model']}, {row['period']}): drafted "
                   f"{row['total_drafted']} vs billed {row['total_billed']} {row['currency']} "
                   f"(difference {row['difference']})")
        for e in row["entries_missing"][:entries_each]:
            out.append(f"    not billed {e['entry_id']} {e['notes']!r}: {e['reason']}")
        for e in row["entries_extra"][:entries_each]:
            out.append(f"    billed {e['entry_id']} {e['notes']!r}: {e['reason']}")
        for c in row["wrong_categories"][:entries_each]:
            out.append(f"    category of {c['entry_id']} {c['notes']!r}: {c['drafted']}, really {c['true']}")
        more = len(row["wrong_categories"]) - entries_each
        if more > 0:
            out.append(f"    ... and {more} more wrong categories")
        for eid, kind in row["anomalies_missed"][:entries_each]:
            out.append(f"    anomaly missed: {eid} {kind}")
        for eid, kind in row["anomalies_extra"][:entries_each]:
            out.append(f"    anomaly not in the labels: {eid} {kind}")
    for p in result["payment_misses"]:
        out.append(f"- payment {p['payment_id']} {p['amount']} {p['currency']} ref {p['reference']!r}: expected "
                   f"{p['expected']}, {'confirmed' if p['auto'] else 'queued with'} {p['proposed']} ({p['reason']})")
    return "\n".join(out)


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return out
