"""A small Chrome DevTools Protocol client for tests: headless Chromium over a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol messages on its fd 3 and
writes them on its fd 4, each a JSON object terminated by a NUL byte. No websocket, no port,
no dependency beyond the standard library.

    with Browser() as browser:
        errors, png = browser.render(Path("page.html"))

``errors`` lists what the page reported as errors (console.error and console.assert,
uncaught exceptions and unhandled rejections, and the browser's own error log entries for
the page, e.g. a resource that failed to load); ``png`` is a screenshot of the whole page.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the names Chromium goes by, in the order they are looked for on PATH
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV = "SMOOTHCLI_TEST_CHROMIUM"  # a browser to use instead (a path or a name on PATH)

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",
    # no DNS: a page that fetches anything from the network fails to load it, and says so
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

MAX_HEIGHT = 16_000  # CSS px; a screenshot taller than this is cut (the GPU's texture limit)


class CDPError(RuntimeError):
    """The browser did not start, answered a command with an error, or timed out."""


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary: $SMOOTHCLI_TEST_CHROMIUM, else PATH."""
    if wanted := os.environ.get(ENV):
        return shutil.which(wanted) or (wanted if os.access(wanted, os.X_OK) else None)
    for name in NAMES:
        if path := shutil.which(name):
            return path
    return None


@dataclass
class Visit:
    """What one page gave: its errors, a PNG screenshot, and the URLs it requested."""

    url: str
    errors: list[str] = field(default_factory=list)
    png: bytes = b""
    requests: list[str] = field(default_factory=list)


class Browser:
    """Headless Chromium, driven over ``--remote-debugging-pipe``; a context manager that
    always ends the browser (and its child processes) and removes its profile."""

    def __init__(
        self,
        executable: str | None = None,
        *,
        width: int = 1280,
        height: int = 800,
        timeout: float = 30.0,
        extra_flags: tuple[str, ...] = (),
    ):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise CDPError(f"no Chromium found: looked for {', '.join(NAMES)} and ${ENV}")
        self.width, self.height, self.timeout = width, height, timeout
        self.extra_flags = extra_flags
        self._ids = itertools.count(1)
        self._messages: queue.Queue[dict | None] = queue.Queue()
        self._events: list[dict] = []  # events read while waiting for a response
        self._proc: subprocess.Popen | None = None
        self._home: str | None = None  # profile, config and cache: all removed at the end
        self._stderr: Any = None
        self._to_browser: int | None = None
        self._from_browser: int | None = None
        self._reader: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def __enter__(self) -> Browser:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._home = tempfile.mkdtemp(prefix="smoothcli-chromium-")
        # the profile, and what Chromium keeps in XDG folders (its crash reports' database
        # in ~/.config/chromium otherwise), stay in the temporary folder
        env = dict(os.environ)
        for var, sub in [("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")]:
            env[var] = os.path.join(self._home, sub)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        # two pipes: the browser reads commands on its fd 3, writes answers on its fd 4.
        # Its ends are moved to fd 10 or above so that they cannot clash with 3 and 4.
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        child_r = _above(cmd_r, 10)
        child_w = _above(out_w, 10)
        self._to_browser, self._from_browser = cmd_w, out_r
        argv = [
            self.executable,
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={os.path.join(self._home, 'profile')}",
            f"--window-size={self.width},{self.height}",
            *self.extra_flags,
            "about:blank",
        ]
        # bash (dash takes no fd above 9) puts the pipe ends on fds 3 and 4, then execs the
        # browser: its pid is the one Popen knows
        script = f'exec "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'
        try:
            self._proc = subprocess.Popen(
                ["/bin/bash", "-c", script, "bash", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
                pass_fds=(child_r, child_w),
                start_new_session=True,  # its own process group: killed as one at the end
            )
        finally:
            for fd in {cmd_r, out_w, child_r, child_w}:
                os.close(fd)
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        self.send("Browser.getVersion")  # the browser is up and speaks the protocol

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None and self._to_browser is not None:
                with contextlib.suppress(Exception):
                    self._write({"id": next(self._ids), "method": "Browser.close"})
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=3)
            # the browser's helpers (zygote, renderers) are in its process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if self._reader is not None:  # reads to the end of the pipe: the browser has gone
            self._reader.join(timeout=5)
            self._reader = None
        for name in ("_to_browser", "_from_browser"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def stderr(self) -> str:
        """What the browser wrote on stderr so far (for error messages)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        self._stderr.seek(0, os.SEEK_END)
        return text

    # -- the protocol --------------------------------------------------------------------------

    def _read(self) -> None:
        pending: list[bytes] = []  # the start of a message not yet ended by a NUL
        fd = self._from_browser
        try:
            while chunk := os.read(fd, 1 << 16):
                *ends, rest = chunk.split(b"\0")
                for end in ends:
                    self._messages.put(json.loads(b"".join([*pending, end])))
                    pending = []
                if rest:
                    pending.append(rest)
        except (OSError, ValueError, TypeError):
            pass
        finally:
            self._messages.put(None)  # the browser is gone

    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data) :]

    def _next(self, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            message = self._messages.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError from None
        if message is None:
            self._messages.put(None)  # stays closed for whoever asks next
            raise CDPError(f"the browser closed the pipe; its stderr:\n{self.stderr()[-4000:]}")
        return message

    def send(
        self,
        method: str,
        params: dict | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict:
        """Send a command, wait for its answer, return its result; events that arrive in the
        meantime are kept for :meth:`events`."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                answer = self._next(deadline)
            except TimeoutError:
                raise CDPError(f"{method}: no answer in {timeout or self.timeout} s") from None
            if answer.get("id") == ident:
                if "error" in answer:
                    raise CDPError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_for(self, method: str, *, session: str | None, timeout: float, since: int = 0) -> dict:
        """Wait for an event (one already read, from the ``since``-th on, counts); return its
        params."""
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for event in self._events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event.get("params", {})
            seen = len(self._events)
            try:
                message = self._next(deadline)
            except TimeoutError:
                raise CDPError(f"no {method} in {timeout} s") from None
            if "method" in message:
                self._events.append(message)

    def pump(self, seconds: float) -> None:
        """Read events for ``seconds``."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while True:
                message = self._next(deadline)
                if "method" in message:
                    self._events.append(message)

    def events(self, session: str | None = None) -> list[dict]:
        return [e for e in self._events if e.get("sessionId") == session]

    # -- pages ---------------------------------------------------------------------------------

    def visit(
        self,
        url: str | Path,
        *,
        script: str | None = None,
        settle: float = 0.3,
        timeout: float | None = None,
    ) -> Visit:
        """Open ``url`` (a path becomes a file:// URL) in a new tab, wait for its load event,
        run ``script`` (if any) in the page, let it settle, and take a full-page screenshot.
        Returns the page's errors, the PNG and the URLs the page requested."""
        if isinstance(url, Path):
            url = url.resolve().as_uri()
        timeout = self.timeout if timeout is None else timeout
        visit = Visit(url)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        try:
            for domain in ("Runtime", "Log", "Page", "Network"):
                self.send(f"{domain}.enable", session=session)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": self.width,
                    "height": self.height,
                    "deviceScaleFactor": 1,
                    "mobile": False,
                },
                session=session,
            )
            first = len(self._events)
            navigated = self.send("Page.navigate", {"url": url}, session=session)
            if navigated.get("errorText"):
                visit.errors.append(f"navigation failed: {navigated['errorText']}")
            else:
                self.wait_for("Page.loadEventFired", session=session, timeout=timeout, since=first)
                if script is not None:
                    self._evaluate(script, session, visit)
                # two animation frames: the page has been laid out and painted
                self._evaluate(
                    "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                    session,
                    visit,
                )
                self.pump(settle)  # late errors: timers, the browser's own log
                visit.png = self._screenshot(session)
            self.send("Runtime.evaluate", {"expression": "0"}, session=session)  # flush
            events = [e for e in self._events[first:] if e.get("sessionId") == session]
            visit.errors += page_errors(events)
            visit.requests = [
                e["params"]["request"]["url"]
                for e in events
                if e["method"] == "Network.requestWillBeSent"
            ]
        finally:
            with contextlib.suppress(CDPError):
                self.send("Target.closeTarget", {"targetId": target})
            self._events = [e for e in self._events if e.get("sessionId") != session]
        return visit

    def render(self, url: str | Path, **kwargs: Any) -> tuple[list[str], bytes]:
        """``(errors, png)`` of a page: see :meth:`visit`."""
        visit = self.visit(url, **kwargs)
        return visit.errors, visit.png

    def _evaluate(self, expression: str, session: str, visit: Visit) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in result:  # the script's own failure (not an uncaught error)
            visit.errors.append(f"script failed: {_describe_exception(result['exceptionDetails'])}")
        return result.get("result", {}).get("value")

    def _screenshot(self, session: str) -> bytes:
        import base64

        metrics = self.send("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(1, min(int(size["width"] + 0.999), 4 * self.width))
        height = max(1, min(int(size["height"] + 0.999), MAX_HEIGHT))
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
            session=session,
        )
        return base64.b64decode(shot["data"])


def page_errors(events: list[dict]) -> list[str]:
    """The errors among a page's protocol events, as text (with where, if known)."""
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(_remote_text(arg) for arg in params.get("args", []))
            errors.append(f"console.{params['type']}: {text}{_where(params.get('stackTrace'))}")
        elif method == "Runtime.exceptionThrown":
            errors.append(f"uncaught: {_describe_exception(params['exceptionDetails'])}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            if entry.get("level") != "error" or _not_the_page(entry):
                continue
            where = f" ({entry['url']})" if entry.get("url") else ""
            errors.append(f"log[{entry.get('source')}]: {entry.get('text')}{where}")
    return errors


def _not_the_page(entry: dict) -> bool:
    """Errors the browser logs that say nothing about the page: a missing favicon (which
    Chromium asks for on http(s) pages, never for file://)."""
    return entry.get("url", "").split("?")[0].endswith("/favicon.ico")


def _remote_text(obj: dict) -> str:
    if "value" in obj:
        return obj["value"] if isinstance(obj["value"], str) else json.dumps(obj["value"])
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "?")


def _describe_exception(details: dict) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text", "exception")
    if details.get("url"):
        text += f" ({details['url']}:{details.get('lineNumber', 0) + 1})"
    return text


def _where(stack: dict | None) -> str:
    frames = (stack or {}).get("callFrames") or []
    if not frames:
        return ""
    top = frames[0]
    return f" ({top.get('url') or '<inline>'}:{top.get('lineNumber', 0) + 1})"


def _above(fd: int, lowest: int) -> int:
    """A copy of ``fd`` numbered ``lowest`` or more (close-on-exec; pass_fds clears that)."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)


def render(path: str | Path, **kwargs: Any) -> tuple[list[str], bytes]:
    """Open one page in a fresh browser: ``(errors, png)``."""
    with Browser() as browser:
        return browser.render(path if isinstance(path, str) else Path(path), **kwargs)
