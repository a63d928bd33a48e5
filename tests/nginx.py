"""Debian's nginx as the tests' reverse proxy: it terminates TLS in front of alsats' web processes.

In production the backend's web processes sit behind nginx, which holds the certificate and spreads
requests over them; ``NginxProxy`` runs that same arrangement in a folder of its own (config, pid,
logs, temp files), on a free 127.0.0.1 port, so the tests exercise the real proxy settings rather
than a stand-in. ``scripts/test.sh`` installs the ``nginx`` package; a missing nginx is an error,
never a skip, so the suite cannot pass without testing through the proxy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from backend.lightning.polar import free_ports

NGINX = Path("/usr/sbin/nginx")
INSTALL_HINT = "scripts/test.sh installs it (apt-get install nginx)"


class NginxNotInstalled(RuntimeError):
    """No /usr/sbin/nginx: the tests would not test alsats behind its reverse proxy."""


def nginx_conf(upstreams: Sequence[str], folder: Path, cert: Path, key: Path, port: int,
               workers: int = 1) -> str:
    """The nginx.conf of the proxy: every path in ``folder``, settings suited to the backend."""
    if not upstreams:
        raise ValueError("NginxProxy needs at least one upstream address")
    servers = "\n".join(f"        server {address};" for address in upstreams)
    # As root (CI) the workers would drop to 'nobody', which cannot read pytest's 0700 folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""# Written by tests/nginx.py.
{user}worker_processes {workers};
pid {folder}/nginx.pid;
lock_file {folder}/nginx.lock;
error_log {folder}/error.log info;

events {{
    worker_connections 1024;
}}

http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body_temp;
    proxy_temp_path {folder}/proxy_temp;
    fastcgi_temp_path {folder}/fastcgi_temp;
    uwsgi_temp_path {folder}/uwsgi_temp;
    scgi_temp_path {folder}/scgi_temp;

    upstream alsats {{
{servers}
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost 127.0.0.1;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;

        # The 750 MB pool upload streams through to the backend as it arrives, and answers
        # stream back: no buffering to disk in between, and room above the largest body.
        client_max_body_size 1100m;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 300s;
        proxy_send_timeout 300s;

        location / {{
            proxy_pass http://alsats;
            # Keep-alive connections to the upstreams: HTTP/1.1 without 'Connection: close'.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # nginx is the edge: it overwrites X-Forwarded-For with the peer it saw, so a
            # client cannot pass a forged address to the backend's per-client limits.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            # An upstream that refuses the connection or fails mid-request hands the request
            # to the next one, but once a POST (or PATCH) has been sent nginx passes it on
            # only if told 'non_idempotent', which stays off on purpose: the dead upstream may
            # have carried the paid POST out, so it answers 502 and the client retries it
            # with its Idempotency-Key, which the backend carries out at most once.
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"""


class NginxProxy:
    """nginx in ``folder``, proxying https://127.0.0.1:PORT to ``upstreams``; stopped on exit.

    ``upstreams`` are "127.0.0.1:PORT" addresses of the web processes; ``cert``/``key`` are PEM
    files (``tests.tls.self_signed`` makes a pair). ``start`` returns once the port does TLS.
    """

    def __init__(self, upstreams: Sequence[str], folder: Path, cert: Path, key: Path,
                 port: int | None = None, timeout: float = 15.0, workers: int = 1) -> None:
        if not os.access(NGINX, os.X_OK):
            raise NginxNotInstalled(f"nginx is not installed (no {NGINX}): {INSTALL_HINT}")
        self.upstreams = list(upstreams)
        self.folder = Path(folder).resolve()
        self.cert, self.key = Path(cert).resolve(), Path(key).resolve()
        self._port = port
        self.timeout = timeout
        self.workers = workers
        self.conf = self.folder / "nginx.conf"
        self.error_log = self.folder / "error.log"
        self._output = self.folder / "nginx.out"  # nginx's own stdout/stderr
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The TCP port nginx listens on (picked at start unless given)."""
        if self._port is None:
            raise RuntimeError("NginxProxy has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL clients use: https://127.0.0.1:PORT."""
        return f"https://127.0.0.1:{self.port}"

    def _logs(self) -> str:
        parts = []
        for path in (self._output, self.error_log):
            text = path.read_text(errors="replace") if path.exists() else "(none)"
            parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts)

    def start(self) -> NginxProxy:
        """Write the config, run nginx in the foreground, wait until its port does TLS.

        A port it picked that is taken before nginx binds it (another test) is picked again;
        a port given to it is kept.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        picked = self._port is None
        for attempt in range(3):
            if picked:
                self._port = free_ports(1)[0]
            self.conf.write_text(nginx_conf(self.upstreams, self.folder, self.cert, self.key,
                                            self.port, self.workers))
            with open(self._output, "wb") as output:
                # A session of its own: stop() can kill the workers too, by the group's id.
                self.process = subprocess.Popen(
                    [str(NGINX), "-c", str(self.conf), "-p", f"{self.folder}/",
                     "-e", str(self.error_log), "-g", "daemon off;"],
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    start_new_session=True)
            try:
                self._wait_for_tls()
                return self
            except _Exited:
                logs = self._logs()
                self.stop()
                if picked and "Address already in use" in logs and attempt < 2:
                    continue
                raise RuntimeError(f"nginx exited at start "
                                   f"(code {self.process.returncode})\n{logs}") from None
            except TimeoutError:
                logs = self._logs()
                self.stop()
                raise RuntimeError(f"nginx did not accept TLS on {self.url} within "
                                   f"{self.timeout:g} s\n{logs}") from None
        raise AssertionError("unreachable")

    def _wait_for_tls(self) -> None:
        """Return once a TLS handshake on the port succeeds; _Exited if nginx stops first."""
        assert self.process is not None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # only whether nginx is up; tests verify the cert
        deadline = time.monotonic() + self.timeout
        while True:
            if self.process.poll() is not None:
                raise _Exited
            try:
                with (socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
                      context.wrap_socket(sock, server_hostname="localhost")):
                    return
            except (OSError, ssl.SSLError):
                if time.monotonic() > deadline:
                    raise TimeoutError from None
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGQUIT (graceful: in-flight requests finish), then SIGKILL to the whole group."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        # The workers are in the master's process group: never leave one holding the port.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def __enter__(self) -> NginxProxy:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _Exited(Exception):
    """nginx's master exited while start() waited for it."""
