"""The crash-injection suite's machinery: a launcher for killed commands, and ready-made states to copy.

Every command of a case is a process of its own, started by `tests/crash/kill_at.py` (through its fork
server, so the product's ~2 s of imports are paid once; CRASH_SUITE_FRESH_PROCESSES=1 starts a fresh
interpreter for every command instead). Its state is the data folder and, for PostgreSQL, a database of
its own.

The states every case starts from are built once per backend by the real CLI and then copied (the data
folder with `shutil.copytree`; the PostgreSQL database with `CREATE DATABASE ... TEMPLATE`):

    beta_waiting   Beta's March draft waits for approval (1,275.68 EUR)
    both_waiting   and Acme's (780.00 GBP) too
    both_sent      both approved: Acme TS-2026-0001 (due 2026-05-01), Beta TS-2026-0002 (due 2026-04-15),
                   recorded as sent on their issue day, 2026-04-01 (they were approved today, but reminders
                   only go out for stages falling after the day an invoice was sent)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.databases import POSTGRES_URL

ROOT = Path(__file__).parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny"
LAUNCHER = Path(__file__).with_name("kill_at.py")
AS_OF = "2026-04-01"
FRESH = os.environ.get("CRASH_SUITE_FRESH_PROCESSES") == "1"
BACKENDS = ["sqlite", "postgresql"]

ACME_TOTAL, BETA_TOTAL = "780.00", "1275.68"


@dataclass(frozen=True)
class Done:
    """How one command ended: its exit status (minus the signal that ended it), stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -9

    def __str__(self) -> str:
        return f"status {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Launcher:
    """Runs `kill_at.py POINT -- ARGS` as a new process: forked from the suite's server, or a fresh one."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._server: subprocess.Popen[str] | None = None
        self._count = 0

    def _serve(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
            self._server = subprocess.Popen([sys.executable, str(LAUNCHER), "--serve"], cwd=ROOT, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            assert "ready" in self._reply(self._server), "the crash launcher's fork server did not start"
        return self._server

    @staticmethod
    def _reply(server: subprocess.Popen[str]) -> dict[str, Any]:
        out: IO[str] | None = server.stdout
        assert out is not None
        line = out.readline()
        assert line, "the crash launcher's fork server stopped"
        reply: dict[str, Any] = json.loads(line)
        return reply

    def __call__(self, env: dict[str, str], point: str, *args: str, timeout: float = 120) -> Done:
        if FRESH:
            done = subprocess.run([sys.executable, str(LAUNCHER), point, "--", *args], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
            return Done(done.returncode, done.stdout, done.stderr)
        self._count += 1
        out, err = self.scratch / f"{self._count}.out", self.scratch / f"{self._count}.err"
        server = self._serve()
        assert server.stdin is not None
        server.stdin.write(json.dumps({"point": point, "args": list(args), "env": env, "cwd": str(ROOT),
                                       "stdout": str(out), "stderr": str(err), "timeout": timeout}) + "\n")
        server.stdin.flush()
        returncode = int(self._reply(server)["returncode"])
        assert returncode != -999, f"invoice-agent {' '.join(args)} ran longer than {timeout} s"
        return Done(returncode, out.read_text(), err.read_text())

    def close(self) -> None:
        if self._server is not None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait(timeout=30)


@pytest.fixture(scope="session")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    opened = Launcher(tmp_path_factory.mktemp("crash-output"))
    yield opened
    opened.close()


# --- databases ------------------------------------------------------------------------------------------


class Postgres:
    """Databases of the machine's PostgreSQL made for this session (copies of templates), dropped at its end."""

    def __init__(self) -> None:
        import psycopg

        self._admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        try:
            self._admin = psycopg.connect(self._admin_url, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL unreachable at {self._admin_url}: {exc}")
        self._made: list[str] = []

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, a database of this session), by name."""
        import psycopg

        name = f"ia_crash_{uuid.uuid4().hex[:10]}"
        statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        for attempt in range(50):  # a template's last client may still be disconnecting
            try:
                self._admin.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        self._made.append(name)
        return name

    @staticmethod
    def url(name: str) -> str:
        return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, name: str) -> None:
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.remove(name)

    def close(self) -> None:
        for name in list(self._made):
            self.drop(name)
        self._admin.close()


# --- a state: a data folder and its database ------------------------------------------------------------


@dataclass
class World:
    """One copy of the invoice-agent state (data folder + database) and the runs it holds, by client."""

    backend: str
    data: Path
    database: str | None
    launch: Launcher
    runs: dict[str, str] = field(default_factory=dict)
    _engine: Engine | None = None

    @property
    def url(self) -> str:
        if self.database is None:
            return f"sqlite:///{self.data / 'invoice-agent.sqlite'}"
        return Postgres.url(self.database)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
        base |= {"INVOICE_AGENT_WORKSPACE": str(TINY), "INVOICE_AGENT_DATA_DIR": str(self.data), "USER": "ann"}
        if "INVOICE_AGENT_CACHE_DIR" in os.environ:  # the categorizer's fits, shared by every command
            base["INVOICE_AGENT_CACHE_DIR"] = os.environ["INVOICE_AGENT_CACHE_DIR"]
        if self.database is not None:
            base["INVOICE_AGENT_DATABASE_URL"] = self.url
        return base

    def cli(self, *args: str, at: str = "none") -> Done:
        """`invoice-agent ARGS` as a new process, killed at `at` (see kill_at.py)."""
        return self.launch(self.env(), at, *args)

    def ok(self, *args: str) -> Done:
        done = self.cli(*args)
        assert done.returncode == 0, f"invoice-agent {' '.join(args)}: {done}"
        return done

    def start(self, client: str, *, at: str = "none") -> Done:
        """`run "invoice CLIENT for March" --as-of 2026-04-01`; the run's id is kept (printed before drafting)."""
        done = self.cli("run", f"invoice {client} for March", "--as-of", AS_OF, at=at)
        found = re.search(r"run (\w+): ", done.stdout)
        assert found, f"no run was started: {done}"
        self.runs[client] = found[1]
        return done

    def killed(self, *args: str, at: str) -> Done:
        """Run the command, and check it died where it was told to."""
        done = self.cli(*args, at=at)
        assert done.killed and f"kill_at: SIGKILL at {at}" in done.stderr, f"not killed at {at}: {done}"
        return done

    # --- reading the state (plain SQL: what any process would find) --------------------------------------

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.url, poolclass=NullPool)
        return self._engine

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine().connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def backdate_claims(self, by: timedelta) -> int:
        """Make the reminders left `sending` look claimed `by` earlier: time passing beyond the lease."""
        from sqlalchemy.orm import Session

        from tools.store.collections_models import ReminderRow

        with Session(self.engine()) as s, s.begin():
            rows = [r for r in s.query(ReminderRow).filter(ReminderRow.status == "sending")]
            for row in rows:
                assert row.claimed_at is not None
                row.claimed_at = row.claimed_at - by
            return len(rows)

    def date_sending(self, on: datetime) -> None:
        """Record every invoice as sent `on` (the approvals ran today; the reminder calendar is 2026's)."""
        from sqlalchemy.orm import Session

        from tools.store.models import InvoiceRow

        with Session(self.engine()) as s, s.begin():
            for row in s.query(InvoiceRow):
                assert row.sent_at is not None
                row.sent_at = on

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def copy(self, folder: Path, postgres: Postgres | None) -> World:
        """A copy of this state in `folder` (and, on PostgreSQL, a new database copied from this one)."""
        self.close()
        shutil.copytree(self.data, folder)
        database = postgres.create(self.database) if self.database is not None and postgres else None
        return World(self.backend, folder, database, self.launch, dict(self.runs))


class Templates:
    """The ready-made states of one backend, each built once by the CLI (module docstring)."""

    def __init__(self, backend: str, root: Path, launch: Launcher) -> None:
        self.backend, self.root, self.launch = backend, root, launch
        self._built: dict[str, World] = {}
        self._postgres: Postgres | None = None

    @property
    def postgres(self) -> Postgres | None:
        """The session's PostgreSQL databases (None on SQLite); skips the test if the server is unreachable."""
        if self.backend != "postgresql":
            return None
        if self._postgres is None:
            pytest.importorskip("psycopg")
            self._postgres = Postgres()
        return self._postgres

    def close(self) -> None:
        for world in self._built.values():
            world.close()
        if self._postgres is not None:
            self._postgres.close()

    def empty(self, folder: Path) -> World:
        database = self.postgres.create() if self.postgres else None
        folder.mkdir(parents=True)
        return World(self.backend, folder, database, self.launch)

    def get(self, name: str) -> World:
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def _build(self, name: str) -> World:
        folder = self.root / name
        if name == "beta_waiting":
            world = self.empty(folder)
            assert "waiting for approval" in world.start("Beta").stdout
        elif name == "both_waiting":
            world = self.get("beta_waiting").copy(folder, self.postgres)
            done = world.start("Acme")
            assert f"{ACME_TOTAL} GBP" in done.stdout and "waiting for approval" in done.stdout, done
        elif name == "both_sent":
            world = self.get("both_waiting").copy(folder, self.postgres)
            assert "invoice TS-2026-0001 created" in world.ok("approve", world.runs["Acme"]).stdout
            assert "invoice TS-2026-0002 created" in world.ok("approve", world.runs["Beta"]).stdout
            world.date_sending(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
        else:
            raise KeyError(name)
        world.close()
        return world

    def copy(self, name: str, folder: Path) -> World:
        return self.get(name).copy(folder, self.postgres)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, launcher: Launcher) -> Iterator[dict[str, Templates]]:
    made = {backend: Templates(backend, tmp_path_factory.mktemp(f"crash-{backend}"), launcher)
            for backend in BACKENDS}
    yield made
    for each in made.values():
        each.close()


@pytest.fixture
def worlds(templates: dict[str, Templates], tmp_path: Path) -> Iterator[Callable[[str, str], World]]:
    """`worlds(backend, state)`: a copy of a ready-made state for this test (`empty` for none)."""
    made: list[World] = []

    def make(backend: str, state: str) -> World:
        folder = tmp_path / f"data{len(made)}"
        world = templates[backend].empty(folder) if state == "empty" else templates[backend].copy(state, folder)
        made.append(world)
        return world

    yield make
    for world in made:
        world.close()
        postgres = templates[world.backend].postgres
        if world.database is not None and postgres is not None:
            postgres.drop(world.database)
