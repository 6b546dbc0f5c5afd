"""Starting `crossmatch serve` subprocesses: a free port, and waiting for ``/healthz``.

Workers, benchmarks and tests start servers as subprocesses; they share this one wait, so a
server that dies at start-up always reports its own error output.
"""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A loopback port nobody listens on now, for a server about to be started."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(proc: subprocess.Popen, port: int, timeout_s: float, what: str = "server") -> subprocess.Popen:
    """Return ``proc`` once ``GET /healthz`` on ``port`` answers 200.

    Raises RuntimeError with the tail of the process's stderr if it exits first, and kills it
    when it is not healthy within ``timeout_s``.
    """
    import httpx  # the server extra; only callers that start servers need it

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} exited: {stderr[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{what} did not start within {timeout_s:g} s")
