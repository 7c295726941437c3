"""Marsh Achebe LLP, a commercial law firm: the spec of the `drift_law` eval workspace.

Nine categories, UTBMS-like activity codes on detailed lines, internal time excluded everywhere, travel at
its own rate (or excluded), a fee cap, a retainer; nine fee earners plus a newcomer who joins in August
and types in shorthand.
"""

from __future__ import annotations

from datetime import date

from evals.workspaces.drift_spec import CategorySpec, ClientSpec, FirmSpec, PersonSpec

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "client_comms", "Client communications",
        ("call with client re strategy", "update email to client", "meeting with in-house counsel"),
        history=(
            "call with client re {topic}", "telephone attendance on {contact}", "email to client re {doc}",
            "meeting with {contact} re next steps", "update call w/ client", "advise client on {topic}",
            "conference with in-house counsel re {doc}", "report to client on {topic}",
            "attendance on client re instructions", "call w/ {contact} re comments on {doc}",
            "client meeting to discuss {topic}", "email update to {contact}", "taking instructions from {contact}",
        ),
        novel=(
            "buzzed their GC about {topic}", "Teams with {contact} on where we are",
            "walked {contact} through the {doc} position", "touched base with {contact}",
            "WhatsApp'd {contact} the headline points", "debrief for {contact} after the {doc} round",
            "Zoom w/ the board on {topic} exposure", "rang {contact} to manage expectations",
            "sat down with the FD on {topic}", "steer from {contact} on {doc} asks",
            "explained the {topic} risk to their CEO",
        ),
        terse=("gc call", "cl call", "cl update", "{contact} tc", "cl mtg", "inst"),
        hours=(0.2, 1.2), task_names=("Client communications", "Advice"),
    ),
    CategorySpec(
        "drafting", "Drafting",
        ("draft share purchase agreement", "revise lease", "prepare witness statement"),
        history=(
            "draft {doc}", "redlines to {doc} cl. {sec}", "revise {doc} per comments", "mark-up of {doc}",
            "prepare witness statement of {witness}", "draft particulars of claim", "amend {doc} schedule {n}",
            "draft board minutes", "first draft of {doc}", "drafting ancillary documents",
            "revise {doc} following call", "prepare skeleton argument", "draft side letter",
        ),
        novel=(
            "turned the {doc} overnight", "reworked {doc} cl. {sec} boilerplate", "tracked changes on the {doc}",
            "wordsmithing the indemnity in the {doc}", "blackline of {doc} v{n}", "penned the {doc} recitals",
            "knocked the {doc} schedules into shape", "put pen to paper on {witness}'s evidence",
            "conformed copy of {doc}", "tidied the definitions section of the {doc}", "pleading for the counterclaim",
            "engrossment version of {doc}",
        ),
        terse=("spa cl {sec}", "dft {doc}", "{doc} mu", "dft", "ws {witness}", "{doc} amends"),
        hours=(0.5, 3.0), task_names=("Drafting",),
        task_titles=("{doc} renegotiation", "Amendment to {doc}"),
    ),
    CategorySpec(
        "research", "Legal research",
        ("research limitation period", "case law review", "research memo"),
        history=(
            "research re {topic}", "case law research on {topic}", "research memo on {topic}",
            "Westlaw search re {topic}", "review authorities on {topic}", "research point on {topic}",
            "statutory research re {topic}", "consider case law re {topic}", "note on {topic} for partner",
            "research limitation period", "Practical Law search on {topic}",
            "research re enforceability of {doc} clause",
        ),
        novel=(
            "case-law crawl on time bars", "Lexis dive into {topic}", "read the leading judgments on {topic}",
            "precedent hunt for {topic}", "Bailii trawl re {topic}", "looked into whether {topic} bites here",
            "Chitty check on {topic}", "digested the CA ruling on {topic}", "how the courts treat {topic} - reading",
            "legislation.gov.uk deep-dive on {topic}", "what the commentary says on {topic}",
            "time bars point - reading around",
        ),
        terse=("rsch", "rsch {topic}", "lexis", "cases", "law pt", "memo"),
        hours=(0.5, 2.5), task_names=("Research",),
        task_titles=("Advice on {topic}", "Opinion re {topic}"),
    ),
    CategorySpec(
        "document_review", "Document review & disclosure",
        ("review disclosure documents", "privilege review", "data room review"),
        history=(
            "doc review production vol. {n}", "privilege review batch {n}", "review disclosure documents",
            "review data room folder {n}", "first-level review of custodian documents", "review {doc} and exhibits",
            "disclosure review tranche {n}", "review documents from other side", "relevance review batch {n}",
            "review correspondence file", "second-level review", "review client documents for disclosure",
        ),
        novel=(
            "Relativity coding session, box {n}", "eyeballed the {witness} mailbox",
            "tagging hot items in the e-discovery platform", "QC of paralegal coding", "sifted the VDR uploads",
            "skimmed box {n} of hard copies", "redaction pass on the {doc} set", "responsiveness calls on batch {n}",
            "combed through the board packs", "sampling of the email corpus", "TAR model training rounds",
        ),
        terse=("doc rvw", "rvw box {n}", "priv", "discl", "rvw", "docs"),
        hours=(0.8, 3.5), task_names=("Disclosure", "Document review"),
        task_titles=("Disclosure exercise", "Document production"),
    ),
    CategorySpec(
        "hearings", "Court & hearings",
        ("attend hearing", "prepare trial bundle", "file claim form"),
        history=(
            "attend hearing", "prepare trial bundle", "file claim form", "e-filing of {doc}", "prepare for CMC",
            "file and serve defence", "attend court for {topic} application", "index for hearing bundle",
            "instruct counsel for hearing", "prepare for hearing", "serve application notice", "attend mention hearing",
        ),
        novel=(
            "sat behind counsel at the RCJ", "in front of the judge on {topic}", "listing office wrangle",
            "pagination for the big day", "got on the horn with the listing clerk", "sealed order collected",
            "skeletons lodged", "costs budget Precedent H", "tribunal day {n}", "directions sought from the master",
            "witness prep before going in to bat",
        ),
        terse=("hrg", "bundle", "cmc", "filing", "hrg prep", "court"),
        hours=(0.3, 2.5), task_names=("Litigation", "Court"),
        task_titles=("Claim re {topic}", "Hearing preparation"),
    ),
    CategorySpec(
        "negotiation", "Negotiation & opposing counsel",
        ("call with opposing counsel", "letter to other side", "settlement negotiations"),
        history=(
            "call w/ opposing counsel re {topic}", "letter to other side re {doc}", "settlement negotiations",
            "without prejudice call re {topic}", "emails with opposing counsel", "negotiation call re {doc} cl. {sec}",
            "correspondence with counterparty re {doc}", "respond to other side's letter", "negotiate {doc} terms",
            "WP meeting with other side", "Part 36 offer letter", "chase other side re {doc}",
        ),
        novel=(
            "got on the horn with their solicitors", "horse-trading on the {doc} caps",
            "back-and-forth with Freshfields on {topic}", "haggled over the {topic} number",
            "pushed back on their asks re {topic}", "bridging the gap on price", "mediation day {n}",
            "sparred with the buyer's lawyers over the {doc}", "counter-proposal on {topic} sent",
            "deal points list with the seller's team", "round-table on {doc} open points",
        ),
        terse=("opp cl call", "wp", "oc emails", "neg", "opp cl", "offer"),
        hours=(0.2, 1.2), task_names=("Negotiation",),
        task_titles=("Settlement negotiations", "{doc} negotiation"),
    ),
    CategorySpec(
        "due_diligence", "Due diligence",
        ("due diligence report", "review title documents", "corporate searches"),
        history=(
            "due diligence on {doc}", "DD report section {n}", "review title documents", "corporate searches",
            "Companies House searches", "DD questionnaire", "red flag report", "review material contracts",
            "diligence call with target", "verify target's {doc}", "DD requests list", "land registry searches",
        ),
        novel=(
            "kicked the tyres on the seller's {doc}", "RFI tracker", "UBO checks on the vendors",
            "cap table sanity check", "Q&A log triage", "change-of-control sweep across the {doc}",
            "liens and charges look-up", "IP chain of ownership dig", "lease schedule for the portfolio",
            "encumbrances check on the sites", "employment liabilities scan",
        ),
        terse=("dd", "searches", "dd rpt", "title", "dd {doc}", "rfi"),
        hours=(0.5, 3.0), task_names=("Due diligence",),
        task_titles=("Due diligence - {doc}", "Target diligence"),
    ),
    CategorySpec(
        "internal_admin", "Internal & file administration",
        ("conflict check", "file opening", "internal matter meeting"),
        history=(
            "file opening", "conflict check", "internal matter meeting", "time entry review", "update matter budget",
            "billing review", "KYC / AML checks", "file maintenance", "internal team meeting re {topic}",
            "supervision of trainee", "matter plan update", "closing file",
        ),
        novel=(
            "know-how session on {topic}", "engagement letter paperwork", "appraisal chat with {colleague}",
            "risk team sign-off", "archiving old boxes", "diary management", "precedent bank upkeep",
            "onboarding new trainee", "partner huddle on staffing", "iManage workspace set-up",
        ),
        terse=("conflicts", "file note", "aml", "onboarding", "it setup", "diary"),
        hours=(0.1, 0.6), task_names=("File admin",),
    ),
    CategorySpec(
        "travel", "Travel",
        ("travel to court", "train to client office"),
        history=(
            "travel to {place}", "train to {place} for meeting", "travel to/from {place}", "travel - {place} hearing",
            "return travel from {place}", "travel to client offices", "flight to {place}", "travel to court",
            "travel time to {place}", "drive to {place} for site visit", "travel to counsel's chambers",
            "train back from {place}",
        ),
        novel=(
            "Eurostar to {place}", "on the 7:05 to {place}", "Uber to their HQ", "schlepped up to {place}",
            "on the road to {place}", "heading up to {place} for the site inspection", "rail journey {place}",
            "taxi + tube to {place}", "en route to {place}", "airport transfer, {place}", "LNER up to {place}",
        ),
        terse=("trvl", "trvl {place}", "trn", "travel", "to {place}", "trn {place}"),
        hours=(1.0, 3.0), task_names=("Travel",),
    ),
)

MIXES: dict[str, dict[str, float]] = {
    "partner": {"client_comms": 3, "drafting": 1.5, "research": 0.3, "document_review": 0.3, "hearings": 1,
                "negotiation": 3, "due_diligence": 0.5, "internal_admin": 1, "travel": 0.5},
    "associate": {"client_comms": 1, "drafting": 3, "research": 2.5, "document_review": 1.5, "hearings": 1,
                  "negotiation": 1.5, "due_diligence": 1.5, "internal_admin": 0.6, "travel": 0.3},
    "trainee": {"client_comms": 0.3, "drafting": 1.5, "research": 2.5, "document_review": 2.5, "hearings": 1,
                "due_diligence": 2, "internal_admin": 0.8, "travel": 0.2},
    "paralegal": {"drafting": 0.5, "document_review": 4, "hearings": 2, "due_diligence": 1.5, "internal_admin": 1.5,
                  "travel": 0.2},
}

PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec("Helena Marsh", "partner", "partner", {"calder": 0.4, "norbridge": 0.35, "pemberton": 0.25}, "quarter",
               0.04),
    PersonSpec("Rupert Achebe", "partner", "partner", {"norbridge": 0.4, "aurelia": 0.35, "wexford": 0.25}, "tenth",
               0.07),
    PersonSpec("Ines Carvalho", "senior_associate", "associate", {"calder": 0.5, "aurelia": 0.5}, "tenth", 0.05),
    PersonSpec("Owen Pryce", "associate", "associate", {"norbridge": 0.6, "wexford": 0.4}, "timer", 0.1, 0.3),
    PersonSpec("Mei Tanaka", "associate", "associate", {"aurelia": 0.5, "calder": 0.3, "pemberton": 0.2}, "tenth",
               0.05),
    PersonSpec("Callum Fraser", "associate", "associate", {"wexford": 0.5, "pemberton": 0.5}, "quarter", 0.09),
    PersonSpec("Zara Qureshi", "trainee", "trainee", {"calder": 0.4, "norbridge": 0.3, "wexford": 0.3}, "tenth", 0.06),
    PersonSpec("Bea Okafor", "paralegal", "paralegal", {"norbridge": 0.5, "calder": 0.5}, "timer", 0.12, 0.2),
    PersonSpec("Tomasz Nowak", "paralegal", "paralegal", {"aurelia": 0.5, "wexford": 0.3, "pemberton": 0.2}, "tenth",
               0.05),
    PersonSpec("Leo Brennan", "associate", "associate", {"calder": 0.4, "norbridge": 0.3, "aurelia": 0.3}, "tenth",
               0.1, 1.0, newcomer=True),
)

_ROLES = {"partner": "520.00", "senior_associate": "420.00", "associate": "320.00", "trainee": "180.00",
          "paralegal": "150.00"}
_UTBMS = (("client_comms", "A106"), ("drafting", "A103"), ("research", "A102"), ("document_review", "A104"),
          ("hearings", "A109"), ("negotiation", "A107"), ("due_diligence", "L110"), ("travel", "A111"))

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        "calder", "Calder Shipping Ltd", ("Calder", "Calder Shipping"), "GBP", "0.20", 30, "ap@caldershipping.example",
        "CAL", "hourly",
        {"default": "280.00", "by_role": _ROLES, "by_category": {"travel": "150.00", "document_review": "200.00"}},
        (6, "up"), "detailed",
        (("exclude", {"category": "internal_admin"}), *(("code", {"category": c, "code": k}) for c, k in _UTBMS)),
        {"doc": ("charterparty", "bill of lading", "SPA", "guarantee"),
         "topic": ("demurrage", "time bars", "limitation of liability", "cargo claims"),
         "witness": ("Capt. Reyes", "J. Holt"), "place": ("Southampton", "the Rolls Building", "Rotterdam"),
         "contact": ("Fiona", "Graham")},
    ),
    ClientSpec(
        "norbridge", "Norbridge Capital LLC", ("Norbridge", "Norbridge Capital"), "USD", "0", 30,
        "payables@norbridge.example", "NOR", "hourly",
        {"default": "450.00", "by_role": {"partner": "850.00", "senior_associate": "650.00", "associate": "520.00",
                                          "trainee": "260.00", "paralegal": "240.00"},
         "by_category": {"document_review": "300.00", "travel": "225.00"}},
        (6, "up"), "category",
        (("exclude", {"category": "internal_admin"}), ("code", {"category": "due_diligence", "code": "L110"}),
         ("cap", {"amount": "86000.00"})),
        {"doc": ("SPA", "disclosure letter", "escrow agreement", "W&I policy", "shareholders agreement"),
         "topic": ("earn-out mechanics", "warranty claims", "FDI screening", "locked box"),
         "witness": ("M. Chen", "K. Osei"), "place": ("New York", "Canary Wharf"), "contact": ("Dev", "Priscilla")},
    ),
    ClientSpec(
        "aurelia", "Aurelia Pharma SE", ("Aurelia", "Aurelia Pharma"), "EUR", "0.19", 14, "invoices@aurelia.example",
        "AUR", "hourly",
        {"default": "340.00", "by_role": {"partner": "560.00", "senior_associate": "450.00", "associate": "360.00",
                                          "trainee": "190.00", "paralegal": "170.00"},
         "by_category": {"research": "300.00"}},
        (6, "up"), "detailed",
        (("exclude", {"category": "internal_admin"}), ("exclude", {"category": "travel"}),
         *(("code", {"category": c, "code": k}) for c, k in _UTBMS if c != "travel")),
        {"doc": ("licence agreement", "supply agreement", "DPA", "clinical trial agreement"),
         "topic": ("parallel imports", "GDPR transfers", "SPC expiry", "exclusivity"),
         "witness": ("Dr. Weber", "A. Rossi"), "place": ("Frankfurt", "Basel"), "contact": ("Katrin", "Luca")},
    ),
    ClientSpec(
        "wexford", "Wexford Homes plc", ("Wexford", "Wexford Homes"), "GBP", "0.20", 30, "invoices@wexford.example",
        "WEX", "retainer",
        {"default": "300.00", "by_role": _ROLES}, (6, "up"), "category",
        (("exclude", {"category": "internal_admin"}),),
        {"doc": ("option agreement", "s106 agreement", "build contract", "TR1"),
         "topic": ("planning conditions", "rights of light", "overage", "easements"),
         "witness": ("P. Morgan", "S. Ahmed"), "place": ("Leeds", "the site"), "contact": ("Nia", "Robert")},
        retainer=("38000.00", "130", "310.00"),
    ),
    ClientSpec(
        "pemberton", "Pemberton Family Office", ("Pemberton",), "GBP", "0.20", 21, "office@pemberton.example",
        "PEM", "hourly",
        {"default": "300.00", "by_role": _ROLES, "by_category": {"travel": "175.00"}},
        (15, "up"), "person",
        (("exclude", {"category": "internal_admin"}),
         ("rollup", {"pattern": r"(?i)\b(bundles?|indexing|pagination)\b", "into": "Bundling & indexing"}),
         ("discount", {"percent": "10"})),
        {"doc": ("trust deed", "letter of wishes", "family charter", "loan note"),
         "topic": ("trustee powers", "inheritance tax", "beneficiary disputes"),
         "witness": ("E. Pemberton", "the trustees"), "place": ("Oxford", "Jersey"), "contact": ("Edward", "Clara")},
    ),
)

FIRM = FirmSpec(
    key="drift_law",
    firm="Marsh Achebe LLP",
    base_currency="GBP",
    invoice_number_format="MA-{year}-{seq:04d}",
    first_seq=501,
    months=((2026, 5), (2026, 6), (2026, 7), (2026, 8)),
    categories=CATEGORIES,
    internal="internal_admin",
    mixes=MIXES,
    people=PEOPLE,
    clients=CLIENTS,
    coarse_tasks=("Legal services", "Matter work", "General advice"),
    vague_history=("general matter time", "work on file", "attending to matter", "engaged on matter generally",
                   "perusing papers", "sundry attendances", "misc matter work", "ongoing matter work"),
    vague_novel=("per earlier", "as discussed", "further to the above", "continuing from before", "more of the same",
                 "odds and ends", "matters arising", "as per yesterday", "tidying up", "following on"),
    non_billable=("pro bono clinic", "write-off: duplicated research", "CPD webinar", "pitch for new client",
                  "legal directory submission"),
    bank_holidays=frozenset({date(2026, 5, 4), date(2026, 5, 25), date(2026, 8, 31)}),
    id_prefix="MA",
)
