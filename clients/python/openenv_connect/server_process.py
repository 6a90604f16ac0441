"""Start an ``openenv serve`` server as a child process, for examples, tests and notebooks.

    with openenv_connect.serve_process("echo") as url:
        with openenv_connect.EnvClient(url) as env:
            ...

The command is ``node bin/openenv.js`` of the source checkout this SDK sits in
(or, for an installed SDK, of the checkout the working directory is in), else ``openenv`` on PATH (``npm install -g openenv-connect``). The server listens
on a free loopback port and prints its URL, which is what this waits for.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence

_CHECKOUT_CLI = Path(__file__).resolve().parents[3] / "bin" / "openenv.js"
_URL = re.compile(r"serving \S+ on (http://\S+)")


def _checkout_cli() -> Optional[Path]:
    """``bin/openenv.js`` of the checkout this SDK sits in, else of the one the working directory is in."""
    if _CHECKOUT_CLI.exists():
        return _CHECKOUT_CLI
    for d in [Path.cwd(), *Path.cwd().parents]:
        candidate = d / "bin" / "openenv.js"
        if candidate.exists() and (d / "clients" / "python").is_dir():
            return candidate
    return None


def default_command() -> List[str]:
    """How to run the ``openenv`` CLI from here."""
    cli = _checkout_cli()
    if cli is not None and shutil.which("node"):
        return ["node", str(cli)]
    found = shutil.which("openenv")
    if found:
        return [found]
    raise FileNotFoundError("no `openenv` CLI: run from an openenv-connect checkout or `npm install -g openenv-connect`")


class ServerProcess:
    """A running ``openenv serve`` child process; ``url`` is where it listens."""

    def __init__(self, url: str, process: "subprocess.Popen[str]", reader: Optional[threading.Thread] = None) -> None:
        self.url = url
        self.process = process
        self._reader = reader

    def stop(self, timeout: float = 15.0) -> None:
        """Asks the server to shut down (SIGTERM: graceful) and waits; kills it if it does not exit."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_process(
    env_name: str,
    args: Sequence[str] = (),
    *,
    command: Optional[Sequence[str]] = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Starts ``openenv serve ENV_NAME --port 0 ARGS...`` and returns once it printed its URL."""
    argv = [*(command or default_command()), "serve", env_name, "--port", "0", *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: "queue.SimpleQueue[Optional[str]]" = queue.SimpleQueue()

    def pump() -> None:
        # Keeps reading after the URL line too, so a chatty server never blocks on a full pipe.
        assert process.stdout is not None
        try:
            for output in process.stdout:
                lines.put(output)
        finally:
            process.stdout.close()
            lines.put(None)

    reader = threading.Thread(target=pump, name=f"openenv-serve-{env_name}", daemon=True)
    reader.start()
    seen: List[str] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.0)) if remaining > 0 else None
        except queue.Empty:
            line = None
        if line is None:  # timed out, or the process exited
            break
        seen.append(line)
        match = _URL.search(line)
        if match:
            return ServerProcess(match.group(1), process, reader)
    process.kill()
    process.wait()
    reader.join(timeout=5)
    raise RuntimeError(f"`{' '.join(argv)}` did not print its URL within {timeout:.0f} s:\n{''.join(seen)}")
