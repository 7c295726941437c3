"""The drift report: how the drafts hold up when the last month is phrased in ways the history never was.

What belongs here: replaying only the last invoiced month of a drift workspace (see
`evals/workspaces/make_drift.py`) exactly as `evals.replay` does, and scoring what drift breaks:
- category accuracy over the entries the draft categorised (billed or excluded by a rule), split by the
  phrasing of their notes (`drift.csv`: history, novel, newcomer), against entry_labels.csv;
- whether the wrong ones are flagged: flag recall (wrong entries carrying an `uncertain_category`
  anomaly), flag rate (categorised entries flagged) and flag precision;
- invoices whose total is off, and among them the "silent" ones, where no wrongly categorised entry is
  flagged, so a reviewer has nothing to look at;
- what is still off once a reviewer has corrected every flagged entry (the draft made again with those
  categories given, as `invoice-agent revise --category` does): the money the flags cannot catch;
- vague-note recall and precision (`vague_description` against the labels), by phrasing.
Fixed-fee clients' entries are left out of the category figures: their time is never billed, so their
category changes nothing and the draft does not flag it.

Everything returned is JSON-plain; `render` turns it into a table.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from evals.metrics import Counts
from evals.replay import Drafter, engine_drafter, known_before
from tools.domain import Workspace
from tools.drafts import Draft, DraftContext, EntryDecision, draft_invoice
from tools.money import format_money
from tools.periods import Period
from tools.workspace import load_workspace

__all__ = ["GROUPS", "drift_report", "drift_reports", "read_drift", "render"]

GROUPS = ("history", "novel", "newcomer")
"""How an entry of the last month is phrased: like the history, in new words, or by the newcomer."""
DRIFT_FILE = "drift.csv"
EXAMPLES = 8


@dataclass(frozen=True)
class Phrasing:
    phrasing: str
    newcomer: bool

    @property
    def group(self) -> str:
        return "newcomer" if self.newcomer else self.phrasing


def read_drift(root: str | Path) -> dict[str, Phrasing]:
    """drift.csv of a workspace: each last-month entry's phrasing (history | novel) and whether a newcomer wrote it."""
    with open(Path(root) / DRIFT_FILE, encoding="utf-8", newline="") as handle:
        return {row["entry_id"]: Phrasing(row["phrasing"], row["newcomer"] == "true") for row in csv.DictReader(handle)}


@dataclass
class _Tally:
    scored: int = 0
    right: int = 0
    flagged: int = 0
    flagged_wrong: int = 0

    def add(self, right: bool, flagged: bool) -> None:
        self.scored += 1
        self.right += right
        self.flagged += flagged
        self.flagged_wrong += flagged and not right

    def json(self) -> dict[str, Any]:
        wrong = self.scored - self.right
        return {"scored": self.scored, "right": self.right, "wrong": wrong,
                "accuracy": _share(self.right, self.scored),
                "flagged": self.flagged, "flagged_wrong": self.flagged_wrong,
                "flag_recall": _share(self.flagged_wrong, wrong), "flag_rate": _share(self.flagged, self.scored),
                "flag_precision": _share(self.flagged_wrong, self.flagged)}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def last_period(workspace: Workspace) -> Period:
    """The period of the latest invoices: the month the drift is in."""
    latest = max(workspace.invoices, key=lambda inv: (inv.period_start, inv.period_end))
    return Period(start=latest.period_start, end=latest.period_end)


def drift_report(workspace: Workspace | str | Path, drafter: Drafter = engine_drafter) -> dict[str, Any]:
    """Replay the last month of a drift workspace and score categories, flags, totals and vague notes."""
    ws = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
    phrasing = read_drift(ws.root)
    period = last_period(ws)
    known = known_before(ws, period)
    context = DraftContext(known, period.end + timedelta(days=1))
    invoices = sorted((inv for inv in ws.invoices if (inv.period_start, inv.period_end) == (period.start, period.end)
                       and inv.status != "void"), key=lambda inv: inv.invoice_number)
    labels = {lb.entry_id: lb for lb in ws.labels}
    notes = {e.id: e.notes for e in ws.entries}
    models = {c.id: c.billing.model for c in ws.clients}

    tallies = {group: _Tally() for group in ("all", *GROUPS)}
    vague = {group: Counts() for group in ("all", "history", "novel")}
    per_invoice: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for inv in invoices:
        draft = drafter(known, context, inv.client, period)
        flagged = {a.entry_id for a in draft.anomalies if a.kind == "uncertain_category"}
        wrong, wrong_flagged = 0, 0
        for d in _categorised(draft) if models[inv.client] != "fixed" else []:
            truth = labels[d.entry_id].category
            right, flag = d.category == truth, d.entry_id in flagged
            group = phrasing[d.entry_id].group if d.entry_id in phrasing else "history"
            tallies["all"].add(right, flag)
            tallies[group].add(right, flag)
            if not right:
                wrong += 1
                wrong_flagged += flag
                if not flag:
                    misses.append({"entry_id": d.entry_id, "client": inv.client, "group": group,
                                   "notes": notes.get(d.entry_id, ""), "true": truth, "drafted": d.category})
        _score_vague(draft, labels, phrasing, vague)
        fixes = {d.entry_id: labels[d.entry_id].category for d in _categorised(draft) if d.entry_id in flagged}
        reviewed = draft_invoice(known, inv.client, period, categories=fixes, context=context).total if fixes \
            else draft.total
        difference = draft.total - inv.total
        per_invoice.append({
            "invoice_number": inv.invoice_number, "client": inv.client, "currency": inv.currency,
            "total_true": format_money(inv.total), "total_drafted": format_money(draft.total),
            "difference": format_money(difference), "exact": difference == 0,
            "wrong_categories": wrong, "wrong_flagged": wrong_flagged,
            "silent": difference != 0 and wrong_flagged == 0,
            "difference_after_review": format_money(reviewed - inv.total),
        })

    off = [row for row in per_invoice if not row["exact"]]
    return {
        "workspace": ws.settings.firm,
        "root": ws.root,
        "period": str(period),
        "invoices": len(per_invoice),
        "totals_exact": len(per_invoice) - len(off),
        "totals_exact_share": _share(len(per_invoice) - len(off), len(per_invoice)),
        "categories": {group: t.json() for group, t in tallies.items()},
        "vague": {group: v.json() for group, v in vague.items()},
        "totals_off": off,
        "silent_wrong": [row for row in off if row["silent"]],
        "off_after_review": [row for row in per_invoice if row["difference_after_review"] != "0.00"],
        "unflagged_misses": _spread(misses),
        "per_invoice": per_invoice,
    }


def _categorised(draft: Draft) -> list[EntryDecision]:
    return [d for d in draft.entries if d.outcome in ("billed", "excluded") and d.category is not None]


def _score_vague(draft: Draft, labels: dict[str, Any], phrasing: dict[str, Phrasing],
                 vague: dict[str, Counts]) -> None:
    """Vague notes among the draft's candidates: the labels' `vague_description` vs the draft's, by phrasing."""
    scope = {d.entry_id for d in draft.entries}
    truth = {i for i in scope if i in labels and labels[i].anomaly == "vague_description"}
    found = {a.entry_id for a in draft.anomalies if a.kind == "vague_description" and a.entry_id in scope}
    for entry_id in truth | found:
        group = phrasing[entry_id].phrasing if entry_id in phrasing else "history"
        for counts in (vague["all"], vague[group]):
            if entry_id in truth and entry_id in found:
                counts.tp += 1
            elif entry_id in found:
                counts.fp += 1
            else:
                counts.fn += 1


def _spread(misses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A few unflagged misses of each phrasing group, for the reader to see what fails."""
    out: list[dict[str, Any]] = []
    for group in GROUPS:
        out += [m for m in misses if m["group"] == group][:EXAMPLES]
    return out


def drift_reports(roots: Iterable[str | Path] | None = None, drafter: Drafter = engine_drafter) -> dict[str, Any]:
    """The report of every drift workspace (default: the bundled ones)."""
    if roots is None:
        from evals.workspaces import DRIFT_DIRS

        roots = DRIFT_DIRS.values()
    return {"workspaces": [drift_report(root, drafter) for root in roots]}


# ----------------------------------------------------------------------------------------------------
# The table


def _pct(value: float) -> str:
    return f"{value * 100:5.1f} %"


def _render_one(r: dict[str, Any]) -> list[str]:
    cats, vague = r["categories"], r["vague"]
    rows = [(f"category accuracy, {group}", f"{_pct(cats[group]['accuracy'])}  ({cats[group]['right']}/"
             f"{cats[group]['scored']})") for group in (*GROUPS, "all")]
    a = cats["all"]
    rows += [
        ("wrong categories flagged (recall)", f"{_pct(a['flag_recall'])}  ({a['flagged_wrong']}/{a['wrong']})"),
        ("  by group", " / ".join(f"{g} {_pct(cats[g]['flag_recall']).strip()}" for g in GROUPS)),
        ("entries flagged (rate)", f"{_pct(a['flag_rate'])}  ({a['flagged']}/{a['scored']})"),
        ("flags that are wrong (precision)", _pct(a["flag_precision"])),
        ("totals exact to the cent", f"{_pct(r['totals_exact_share'])}  ({r['totals_exact']}/{r['invoices']})"),
        ("totals off / silent wrong", f"{len(r['totals_off'])} / {len(r['silent_wrong'])}"),
        ("totals off after review of flags", f"{len(r['off_after_review'])}"),
    ]
    rows += [(f"vague notes P / R, {group}", f"{_pct(vague[group]['precision'])} / {_pct(vague[group]['recall'])}  "
              f"(tp {vague[group]['tp']}, fp {vague[group]['fp']}, fn {vague[group]['fn']})")
             for group in ("all", "history", "novel")]
    width = max(len(name) for name, _ in rows)
    out = [f"Drift in {r['workspace']}, {r['period']} ({r['invoices']} invoices)", ""]
    out += [f"{name.ljust(width)}  {value}" for name, value in rows]
    if r["totals_off"]:
        out += ["", "Totals off (silent: no wrong category flagged):"]
        out += [f"- {row['invoice_number']} {row['client']}: {row['difference']} {row['currency']} "
                f"({row['wrong_categories']} wrong, {row['wrong_flagged']} flagged; "
                f"{row['difference_after_review']} after the flagged ones are corrected)"
                + ("  SILENT" if row["silent"] else "") for row in r["totals_off"]]
    if r["unflagged_misses"]:
        out += ["", "Wrong and not flagged, e.g.:"]
        out += [f"- [{m['group']}] {m['entry_id']} {m['notes']!r}: drafted {m['drafted']}, really {m['true']}"
                for m in r["unflagged_misses"]]
    return out


def render(result: dict[str, Any]) -> str:
    """The table of one report or of `drift_reports`' several."""
    reports = result.get("workspaces", [result])
    blocks = ["\n".join(_render_one(r)) for r in reports]
    return "\n\n".join(blocks)
