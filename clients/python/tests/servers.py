"""Echo servers for the tests: the URLs the caller passes, or `openenv serve echo` processes started here."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[3]
_URL = re.compile(r"serving \S+ on (http://\S+)")


class Server:
    """A running `openenv serve` process, or a URL given from outside (then nothing to stop)."""

    def __init__(self, url: str, process: Optional[subprocess.Popen] = None) -> None:
        self.url = url
        self.process = process

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(env_name: str, extra_args: List[str], timeout: float = 60.0) -> Server:
    """Starts `node bin/openenv.js serve NAME --port 0 ...` and waits for the URL it prints."""
    process = subprocess.Popen(
        ["node", str(REPO / "bin" / "openenv.js"), "serve", env_name, "--port", "0", *extra_args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + timeout
    seen: List[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = _URL.search(line)
        if match:
            return Server(match.group(1), process)
    process.kill()
    raise RuntimeError(f"`openenv serve {env_name}` printed no URL:\n{''.join(seen)}")


def server_from_env(variable: str, env_name: str, extra_args: List[str]) -> Server:
    """The server named by an environment variable (as the vitest driver passes), else a new one."""
    url = os.environ.get(variable)
    return Server(url) if url else start(env_name, extra_args)
