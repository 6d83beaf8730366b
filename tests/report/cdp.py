"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (standard library only).

Chromium reads NUL-terminated JSON commands on fd 3 and writes NUL-terminated JSON messages on fd 4.
:func:`inspect_page` opens one local file, records every network request, failed load, console
message, log entry and uncaught exception, evaluates an expression, and saves a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


_SHIM = (
    "import fcntl, os, sys\n"
    "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def find_chromium() -> str | None:
    env = os.environ.get("CARTREG_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@dataclass
class PageReport:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    failed: list[str] = field(default_factory=list)  # Network.loadingFailed
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    log: list[tuple[str, str]] = field(default_factory=list)  # Log.entryAdded (level, text)
    exceptions: list[str] = field(default_factory=list)
    value: object = None  # result of the evaluated expression
    screenshot: Path | None = None

    @property
    def errors(self) -> list[str]:
        out = [f"failed load: {u}" for u in self.failed]
        out += [f"console.{t}: {x}" for t, x in self.console if t in ("error", "assert")]
        out += [f"log {lv}: {x}" for lv, x in self.log if lv == "error"]
        out += [f"exception: {x}" for x in self.exceptions]
        return out


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int, deadline: float):
        self.w, self.r, self.deadline, self.buf, self.next_id = write_fd, read_fd, deadline, b"", 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_one(self) -> dict:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        mid = self.send(method, params, session)
        while True:
            msg = self._read_one()
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            msg = self._read_one()
            if msg.get("method") == method:
                return msg
            self.events.append(msg)


def inspect_page(html: Path, expression: str, screenshot: Path, width: int = 1280,
                 timeout: float = 60.0, chromium: str | None = None, media: str | None = None) -> PageReport:
    """Load ``html`` in headless Chromium; return what happened (see :class:`PageReport`).

    ``media="print"`` renders with the print stylesheet (CSS media emulation)."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise FileNotFoundError("chromium not found")
    profile = screenshot.parent / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # fd 3 = commands to Chromium, fd 4 = its answers: a small Python shim places them, then execs
    # Chromium (a shell's "3<&N" fails for N >= 10 in dash; preexec_fn is not thread-safe).
    cmd = [sys.executable, "-c", _SHIM, str(to_chrome_r), str(from_chrome_w), chromium,
           *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900", "about:blank"]
    log = open(screenshot.parent / "chromium-stderr.log", "wb")
    proc = subprocess.Popen(cmd, pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    log.close()
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    rep = PageReport()
    pipe = _Pipe(to_chrome_w, from_chrome_r, time.monotonic() + timeout)
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for dom in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{dom}.enable", {}, sid)
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, sid)
        if media:
            pipe.call("Emulation.setEmulatedMedia", {"media": media}, sid)
        pipe.call("Page.navigate", {"url": html.resolve().as_uri()}, sid)
        pipe.wait_event("Page.loadEventFired")
        value = pipe.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, sid)
        rep.value = value.get("result", {}).get("value")
        height = pipe.call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                "returnByValue": True}, sid)["result"]["value"]
        shot = pipe.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": int(height), "scale": 1}}, sid)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        rep.screenshot = screenshot
        # drain what arrived meanwhile
        for ev in pipe.events:
            if ev.get("sessionId") not in (None, sid):
                continue
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Network.requestWillBeSent":
                rep.requests.append(p["request"]["url"])
            elif m == "Network.loadingFailed":
                rep.failed.append(f"{p.get('errorText')} ({p.get('requestId')})")
            elif m == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                rep.console.append((p.get("type", ""), text))
            elif m == "Log.entryAdded":
                e = p.get("entry", {})
                rep.log.append((e.get("level", ""), f"{e.get('text', '')} {e.get('url', '')}".strip()))
            elif m == "Runtime.exceptionThrown":
                rep.exceptions.append(json.dumps(p.get("exceptionDetails", {}))[:500])
        try:
            pipe.send("Browser.close")
        except OSError:
            pass
    finally:
        os.close(to_chrome_w)
        os.close(from_chrome_r)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group of the Chromium started here
            proc.wait(timeout=10)
    return rep
