"""Echo servers for the tests: the URLs the caller passes, or `openenv serve echo` processes started here."""

from __future__ import annotations

import os
from typing import List, Optional

from openenv_connect.server_process import ServerProcess, serve_process


class Server:
    """A server to test against; ``stop()`` ends it only when it was started here."""

    def __init__(self, url: str, process: Optional[ServerProcess] = None) -> None:
        self.url = url
        self.process = process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def server_from_env(variable: str, env_name: str, extra_args: List[str]) -> Server:
    """The server named by an environment variable (as test/python-sdk.test.ts passes), else a new one."""
    url = os.environ.get(variable)
    if url:
        return Server(url)
    process = serve_process(env_name, extra_args)
    return Server(process.url, process)
