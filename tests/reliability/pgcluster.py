"""A private PostgreSQL cluster for fault tests: ``initdb`` / ``pg_ctl`` run as the
``postgres`` user in a temporary folder, on a port of its own (the shared server is never
touched). Skips when the PostgreSQL server binaries or the ``postgres`` user are missing."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.serving import free_port


def _bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


class Cluster:
    def __init__(self, folder: Path, port: int, bin_dir: Path, as_postgres: bool) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self.bin = bin_dir
        self.as_postgres = as_postgres
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    bin_dir = _bin()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    as_postgres = os.geteuid() == 0
    if as_postgres:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root needs a postgres user to run initdb")
    folder = Path(tempfile.mkdtemp(prefix="callhook-pg-"))
    if as_postgres:
        os.chown(folder, user.pw_uid, user.pw_gid)
    cluster = Cluster(folder, free_port(), bin_dir, as_postgres)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
