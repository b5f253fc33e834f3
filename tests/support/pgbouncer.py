"""A real PgBouncer process in transaction pooling mode, in front of one test database.

Debian's `pgbouncer` package (1.18, `make test` installs it): the version whose limits matter
(no prepared statements across pooled server connections, no `options` startup parameter).

    with PgBouncer(pg_url) as bouncer:
        run_cli(["migrate"], bouncer.url)

PgBouncer refuses to run as root; as root the process drops to the `postgres` user (`-u`),
so its ini and auth file live in a directory that user can read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from tests.support.services import free_port, wait_for_port

RUN_AS_WHEN_ROOT = "postgres"


class PgBouncer:
    """Start `pgbouncer` on a free port with `pool_mode = transaction`; `url` goes through it."""

    def __init__(self, database_url: str, pool_size: int = 3) -> None:
        self.target = make_url(database_url)
        # Fewer server connections than concurrent clients: consecutive transactions of one
        # client land on different server connections, as in production, so anything that
        # relies on a session (a session lock, a prepared statement) breaks visibly.
        self.pool_size = pool_size
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="rc-pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.directory / "pgbouncer.log"

    @property
    def url(self) -> str:
        """The test database's URL, through the pooler."""
        return self.target.set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False
        )

    @staticmethod
    def libpq(url: str) -> str:
        """The same URL for psycopg itself (no `+psycopg` driver suffix)."""
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def start(self) -> PgBouncer:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        assert os.path.exists(binary), "pgbouncer not installed: `apt-get install -y pgbouncer`"
        user = self.target.username or "postgres"
        target = (
            f"host={self.target.host or '127.0.0.1'} port={self.target.port or 5432} "
            f"dbname={self.target.database}"
        )
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{self.target.database} = {target}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 200\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'users.txt'}\n"
            f"logfile = {self.log}\n"
        )
        # trust still needs the user listed; the password is not checked.
        (self.directory / "users.txt").write_text(f'"{user}" ""\n')
        command = [binary]
        if os.geteuid() == 0:
            command += ["-u", RUN_AS_WHEN_ROOT]
            # The dropped user reads the ini and auth file and writes its log here.
            shutil.chown(self.directory, user=RUN_AS_WHEN_ROOT)
            for path in self.directory.iterdir():
                os.chmod(path, 0o644)
        self.process = subprocess.Popen(
            [*command, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            raise RuntimeError(f"pgbouncer did not start: {self._stderr()}") from None
        return self

    def server_connections(self) -> int:
        """Return how many server connections the pooler opened (from its log)."""
        return self.log_text().count("new connection to server")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # pgbouncer exits at once on SIGTERM; SIGKILL if not
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def _stderr(self) -> str:
        assert self.process is not None
        if self.process.poll() is None:
            return f"still starting after a while; log: {self.log_text()[-500:]}"
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")[-500:]

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
