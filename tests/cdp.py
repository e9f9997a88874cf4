"""A minimal Chrome DevTools Protocol client for the browser tests (headless Chromium + websocket-client).

Starts ``chromium --headless`` with a fresh profile and no network side
channels, opens one page and records every console message, uncaught
exception, log entry and network request while the page loads.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: Where Debian's ``chromium`` package installs the browser.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars")


def chromium_path() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    p = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK) else None)
    return p


class Browser:
    """``with Browser() as b: page = b.open(url)`` -- a headless Chromium with a fresh profile."""

    def __init__(self, width: int = 1280, height: int = 900, timeout_s: float = 60):
        self.width, self.height, self.timeout_s = width, height, timeout_s

    def __enter__(self):
        import websocket

        exe = chromium_path()
        if exe is None:
            raise FileNotFoundError(f"chromium not found at {CHROMIUM}")
        self.profile = tempfile.mkdtemp(prefix="finops-chromium-")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + self.timeout_s
        url = None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            self.__exit__(None, None, None)
            raise RuntimeError("chromium did not open a DevTools endpoint")
        self.port = int(re.search(r":(\d+)/", url).group(1))
        self.browser_ws = websocket.create_connection(url, timeout=self.timeout_s, suppress_origin=True)
        self._ids = itertools.count(1)
        return self

    def __exit__(self, *exc):
        for ws in (getattr(self, "page_ws", None), getattr(self, "browser_ws", None)):
            if ws is not None:
                try:
                    ws.close()
                except OSError:
                    pass
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(getattr(self, "profile", ""), ignore_errors=True)
        return False

    # ---- protocol ---------------------------------------------------------
    def _call(self, ws, method: str, **params):
        msg_id = next(self._ids)
        ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def call(self, method: str, **params):
        """Send a command to the page and return its result (events meanwhile are recorded)."""
        return self._call(self.page_ws, method, **params)

    def open(self, url: str) -> Browser:
        """Open ``url`` in a new page and wait for its load event (plus a short settle)."""
        import websocket

        self.events: list[dict] = []
        target = self._call(self.browser_ws, "Target.createTarget", url="about:blank")["targetId"]
        self.page_ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/devtools/page/{target}", timeout=self.timeout_s, suppress_origin=True
        )
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = json.loads(self.page_ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == "Page.loadEventFired":
                    break
        else:
            raise TimeoutError(f"{url} did not load within {self.timeout_s} s")
        self.evaluate("new Promise(r => setTimeout(r, 300))")  # let inline scripts finish
        return self

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (awaited, returned by value)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JavaScript error: {res['exceptionDetails']}")
        return res["result"].get("value")

    # ---- what happened ----------------------------------------------------
    def console_errors(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')} "
                           f"{p.get('exceptionDetails', {}).get('exception', {}).get('description', '')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log.{p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requested_urls(self) -> list[str]:
        """Every URL the page requested (the document itself included)."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path) -> Path:
        """Full-page PNG screenshot."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": self.width, "height": min(float(size["height"]), 16_000), "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
