"""A throwaway PostgreSQL cluster for tests: ``initdb`` in a temp dir, ``pg_ctl`` on a
free loopback port, its unix socket in the same dir, gone at the end.

PostgreSQL refuses to run as root, so as root the server runs as ``$BRB_PG_USER``,
else ``brbpg`` (``.ci/run`` creates it), else ``nobody``. The binaries come from
``$BRB_PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``, else ``$PATH``.
Password authentication is on for TCP, so the URLs the tests use carry a password
(which brb must never print).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "brb"


def find_bin() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or None."""
    if os.environ.get("BRB_PG_BIN"):
        return Path(os.environ["BRB_PG_BIN"])
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if dirs:
        return Path(dirs[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("BRB_PG_USER"), "brbpg", "nobody"):
        if not name:
            continue
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Cluster:
    root: Path
    port: int
    password: str
    bin_dir: Path
    user: str | None  # who the server runs as (None: this process's user)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def pg_ctl(self, *args: str) -> None:
        """``pg_ctl start``, or ``stop -m immediate`` (a crash), as the server's user."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        data, log = str(self.root / "data"), str(self.root / "log")
        command = [str(self.bin_dir / "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60"]
        subprocess.run(
            _cmd(self.user, *command, "-o", options, *args),
            check=True,
            capture_output=True,
            timeout=120,
        )


def _cmd(user: str | None, *args: str) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else list(args)


@contextlib.contextmanager
def running_cluster(bin_dir: Path) -> Iterator[Cluster]:
    """Start a fresh cluster; stop it and delete it on exit."""
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="brb-pg-"))
    pwfile = root / "pw"
    password = secrets.token_urlsafe(12)
    pwfile.write_text(password + "\n")
    if user:
        entry = pwd.getpwnam(user)
        for p in (root, pwfile):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    cluster = Cluster(root, _free_port(), password, bin_dir, user)
    initdb = [str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER]
    initdb += [f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"]
    initdb += ["-E", "UTF8", "--locale=C", "--no-sync"]
    try:
        subprocess.run(_cmd(user, *initdb), check=True, capture_output=True, timeout=120)
        cluster.pg_ctl("start")
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}\n{log}"
        ) from None
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(cluster: Cluster, name: str) -> str:
    """Create an empty database ``name`` and return its URL."""
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)
