"""BoaviztAPI server lifecycle: the server never outlives the process that started it (fast, offline)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_FAKE_BOAVIZTA = """#!{python}
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
with open(os.environ["FAKE_BOAVIZTA_PIDFILE"], "w") as fh:
    fh.write(str(os.getpid()))
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{{}}")
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""

_PARENT = """
import sys, time
from finops_lib.collect.boavizta import boavizta_server
with boavizta_server(python=sys.argv[1], timeout_s=20) as url:
    print(url, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has exited


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_server_dies_with_its_parent(tmp_path, monkeypatch, sig):
    """Killing the collecting process must not leave the (AGPL) server running (review repro t6)."""
    monkeypatch.delenv("BOAVIZTA_URL", raising=False)
    fake = tmp_path / "fake-python"
    fake.write_text(_FAKE_BOAVIZTA.format(python=sys.executable))
    fake.chmod(0o755)
    pidfile = tmp_path / "server.pid"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(fake)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "FAKE_BOAVIZTA_PIDFILE": str(pidfile)})
    try:
        assert parent.stdout.readline().startswith("http://127.0.0.1:")
        child = int(pidfile.read_text())
        assert _alive(child)
        parent.send_signal(getattr(signal, sig))
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait()
        if pidfile.exists() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
