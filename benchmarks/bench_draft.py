"""Benchmark: draft every client of a 150-person agency month.

Generates (seeded) a workspace of 150 people, 200 clients and over 20,000 time entries for 2026-03,
then loads it, scans it for anomalies, categorizes and drafts every client, and prints:
entries per second, wall time, peak memory (max RSS of this process), and the ratio of the whole run
to merely reading time_entries.csv with the csv module. Targets: ratio <= 10, < 2 s, < 500 MB.

It runs three times, each in a fresh process: *cold*, with an empty categorizer cache (the first draft
of a workspace: the categorizer is fitted and every entry scored); *fitted*, with the fitted model
cached but not its decisions (new entries against a known history: every entry scored); *warm*, with
both cached (drafting the same entries again: a revision, a resumed run, the inbox).

    .venv/bin/python benchmarks/bench_draft.py [--keep DIR] [--profile [N]]

`--profile` runs the timed part under cProfile and then lists the N (default 30) functions that took the
most time of their own; the figures then include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.drafts import DraftContext, Period, draft_invoice
from tools.workspace import load_workspace

SEED = 20260301
PEOPLE = 150
CLIENTS = 200
PERIOD = Period.month(2026, 3)

CATEGORIES = {
    "discovery": ("Discovery & workshops", ["client discovery call", "stakeholder interview", "kickoff workshop"]),
    "strategy": ("Strategy", ["brand strategy deck", "positioning workshop prep", "roadmap planning"]),
    "design": ("Design", ["homepage wireframes", "hi-fi mocks", "design system components"]),
    "development": ("Development", ["build product page", "api integration", "fix checkout bug"]),
    "qa": ("QA & testing", ["regression testing", "QA pass on staging", "test plan"]),
    "content": ("Content & copy", ["homepage copy", "blog post draft", "copy edits"]),
    "pm": ("Project management", ["sprint planning", "status report", "timeline update"]),
    "client_meeting": ("Client meetings", ["weekly call with client", "sync w/ client", "client review meeting"]),
    "internal_meeting": ("Internal meetings", ["team standup", "internal sync", "retro"]),
    "support": ("Support & maintenance", ["plugin updates", "server patching", "hotfix"]),
}
TEMPLATES = {
    "discovery": ["kickoff w/ their {who}", "discovery call - {topic}", "stakeholder intvw {who}", "workshop prep"],
    "strategy": ["strategy deck v{n}", "positioning notes", "competitor audit {topic}", "roadmap"],
    "design": ["wires for {topic}", "hi-fi mocks v{n}", "{topic} page design", "icon set tweaks"],
    "development": ["{ticket} {topic} fixes", "build {topic} component", "PR review {ticket}", "api work {topic}"],
    "qa": ["QA pass {topic}", "regression tests", "bug bash {topic}", "test cases {ticket}"],
    "content": ["{topic} copy", "copy edits v{n}", "blog draft", "proofing {topic}"],
    "pm": ["sprint planning", "status report wk{n}", "timeline update", "scope doc {topic}"],
    "client_meeting": ["sync w/ client", "weekly call {who}", "client review {topic}", "call w/ {who}"],
    "internal_meeting": ["standup", "internal sync", "retro", "team mtg"],
    "support": ["plugin updates", "hotfix {ticket}", "server patching", "monitoring alerts"],
}
WHO = ["CMO", "CTO", "PM", "founder", "marketing team", "ops lead"]
TOPICS = ["checkout", "homepage", "nav", "search", "pricing", "onboarding", "account", "blog", "careers"]
ROLES = ["partner", "senior", "mid", "junior"]


def generate(root: Path, rng: random.Random) -> int:
    cats = "\n".join(
        f"  - id: {cid}\n    label: {label}\n    examples: {examples!r}".replace("'", '"')
        for cid, (label, examples) in CATEGORIES.items()
    )
    (root / "workspace.yaml").write_text(
        f"firm: Bench Agency\nbase_currency: GBP\ninvoice_number_format: \"BA-{{year}}-{{seq:05d}}\"\n"
        f"categories:\n{cats}\n"
    )
    people = [(f"Person {i:03d}", ROLES[i % len(ROLES)]) for i in range(PEOPLE)]
    with (root / "people.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["person", "role", "email"])
        w.writerows([name, role, f"p{i}@bench.example"] for i, (name, role) in enumerate(people))

    clients = []
    for i in range(CLIENTS):
        model = ("hourly", "hourly", "hourly", "retainer", "fixed")[i % 5]
        billing = {"hourly": "{model: hourly}", "fixed": "{model: fixed}",
                   "retainer": '{model: retainer, retainer: {amount: "4000.00", included_hours: "30", '
                               'overage_rate: "140.00"}}'}[model]
        rules = ['{exclude: {category: internal_meeting}}', '{rollup: {pattern: "(?i)bug|fix", into: Maintenance}}',
                 '{code: {category: design, code: "DSN-1"}}', '{discount: {percent: "5"}}',
                 '{cap: {amount: "20000.00"}}'][: i % 6]
        clients.append(
            f"  - id: c{i:03d}\n    name: Client {i:03d} Ltd\n    currency: {('GBP', 'EUR', 'USD')[i % 3]}\n"
            f"    tax_rate: \"{('0.20', '0', '0.19')[i % 3]}\"\n    payment_terms_days: 30\n"
            f"    billing: {billing}\n"
            f"    rates: {{default: \"120.00\", by_role: {{partner: \"250.00\", senior: \"160.00\"}}, "
            f"by_category: {{strategy: \"180.00\"}}, by_person: {{\"Person 007\": \"300.00\"}}}}\n"
            f"    rounding: {{increment_minutes: {(6, 15)[i % 2]}, mode: {('up', 'nearest', 'none')[i % 3]}}}\n"
            f"    group_by: {('category', 'task', 'person', 'detailed')[i % 4]}\n"
            f"    rules: [{', '.join(rules)}]\n"
        )
    (root / "clients.yaml").write_text("clients:\n" + "".join(clients))

    tasks = []
    with (root / "tasks.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "client", "project_code", "title", "status", "completed_at", "milestone_amount", "assignee"])
        for i in range(CLIENTS):
            for t in range(5):
                tid = f"C{i:03d}-{t + 1}"
                done = t < 2
                tasks.append(tid)
                w.writerow([tid, f"c{i:03d}", f"C{i:03d}.WEB", f"Task {t + 1} of client {i}",
                            "done" if done else "open", f"2026-03-{10 + t * 5:02d}" if done else "",
                            "5000.00" if done and i % 5 == 4 else "", people[(i + t) % PEOPLE][0]])

    rows = 0
    with (root / "time_entries.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "date", "person", "client", "project_code", "task", "notes", "hours", "start", "end",
                    "billable", "task_ref"])
        day = PERIOD.start
        while day <= PERIOD.end:
            if day.weekday() < 5 or rng.random() < 0.02:
                for p, (name, _) in enumerate(people):
                    home = [(p * 7 + k) % CLIENTS for k in range(3)]
                    for _ in range(rng.choice((6, 7, 7, 8))):
                        c = rng.choice(home)
                        cat = rng.choice(list(CATEGORIES))
                        ticket = f"C{c:03d}-{rng.randint(1, 5)}"
                        notes = rng.choice(TEMPLATES[cat]).format(
                            who=rng.choice(WHO), topic=rng.choice(TOPICS), n=rng.randint(1, 4), ticket=ticket)
                        rows += 1
                        w.writerow([rows, day.isoformat(), name, f"c{c:03d}", f"C{c:03d}.WEB",
                                    rng.choice(("Project work", CATEGORIES[cat][0])), notes,
                                    rng.choice(("0.25", "0.5", "0.75", "1", "1.1", "1.5", "2", "0.3")), "", "",
                                    "true" if rng.random() < 0.95 else "false",
                                    ticket if rng.random() < 0.3 else ""])
            day += timedelta(days=1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the generated workspace here and keep it")
    parser.add_argument("--profile", type=int, nargs="?", const=30, metavar="N",
                        help="profile the timed part and list the N functions with the most own time")
    parser.add_argument("--timed", type=Path, help=argparse.SUPPRESS)  # one run, in this process
    args = parser.parse_args()
    if args.timed:
        timed(args.timed, args.profile)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-ws-"))
    root.mkdir(parents=True, exist_ok=True)
    entries = generate(root, random.Random(SEED))
    baseline = min(_read_csv(root / "time_entries.csv") for _ in range(5))
    print(f"workspace:           {PEOPLE} people, {CLIENTS} clients, {entries} entries")
    print(f"csv-module read:     {baseline * 1000:.1f} ms")
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    phases = {"cold": "empty categorizer cache", "fitted": "model cached, its decisions not",
              "warm": "model and decisions cached"}
    for phase, what in phases.items():
        if phase == "fitted":
            for decided in cache.glob("**/*.decisions.pickle"):
                decided.unlink()
        command = [sys.executable, __file__, "--timed", str(root)]
        if args.profile and phase == "warm":
            command += ["--profile", str(args.profile)]
        out = subprocess.run(command, env={**os.environ, "INVOICE_AGENT_CACHE_DIR": str(cache)}, check=True,
                             capture_output=True, text=True).stdout
        figures = json.loads(out.splitlines()[0])
        wall = figures["wall"]
        print(f"\n{phase} ({what}):")
        print(f"  drafts:              {figures['drafts']} ({figures['lines']} lines)")
        print(f"  load workspace:      {figures['load'] * 1000:.1f} ms")
        print(f"  whole run:           {wall * 1000:.1f} ms   (target < 2000 ms)")
        print(f"  entries per second:  {entries / wall:,.0f}")
        print(f"  peak memory (RSS):   {figures['peak_mb']:.0f} MB   (target < 500 MB)")
        print(f"  ratio run / csv:     {wall / baseline:.1f}   (target <= 10)")
        print("".join(f"  {line}\n" for line in out.splitlines()[1:]), end="")


def timed(root: Path, profile: int | None) -> None:
    """Load, scan, categorize and draft every client once; print the figures as one JSON line."""
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    workspace = load_workspace(root)
    loaded = time.perf_counter()
    context = DraftContext(workspace, as_of=date(2026, 4, 1))
    drafts = [draft_invoice(workspace, c.id, PERIOD, context=context) for c in workspace.clients]
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    lines = sum(len(d.lines) for d in drafts)
    print(json.dumps({"wall": wall, "load": loaded - start, "drafts": len(drafts), "lines": lines,
                      "peak_mb": peak_mb}))
    if profiler:
        print("profile (the figures above include its overhead):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(profile)


def _read_csv(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
