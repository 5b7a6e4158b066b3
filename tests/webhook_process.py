"""Real ``studiobot run --webhook`` processes, for tests and benchmarks.

Each worker is a child process of the current Python running the product's
CLI, configured only through its environment (``STUDIOBOT_*``), listening on
its own port of 127.0.0.1; the caller posts updates to :attr:`WebhookWorker.url`
with the secret header, as Telegram would.  The worker handles an update
before it responds, so when :meth:`WebhookWorker.post` returns, the answer is
committed and the replies were sent to the Bot API server.

Its log (INFO and above, the CLI's setting) goes to a file, not a pipe: a
pipe nobody reads fills up after a few hundred updates and stalls the worker.
:meth:`WebhookWorker.problems` lists the ERROR lines and tracebacks of it.

The children import the product from the folder this package lies in
(``PYTHONPATH``), so a copy of the repository tests its own code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_PROBLEM = re.compile(r" (ERROR|CRITICAL) |^Traceback ")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class WebhookWorker:
    """One ``studiobot run --webhook`` child process."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        api_url: str,
        database_url: str,
        data_dir: Path,
        log_path: Path,
        secret: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port or free_port(host)
        self.secret = secret
        self.log_path = log_path
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("STUDIOBOT_")}
        self.env = {
            **inherited,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "STUDIOBOT_BOT_TOKEN": token,
            "STUDIOBOT_TELEGRAM_API_URL": api_url,
            "STUDIOBOT_DATABASE_URL": database_url,
            "STUDIOBOT_DATA_DIR": str(data_dir),
            "STUDIOBOT_WEBHOOK_URL": f"https://{name}.bot.example.org/",
            "STUDIOBOT_WEBHOOK_SECRET": secret,
            "STUDIOBOT_WEBHOOK_HOST": host,
            "STUDIOBOT_WEBHOOK_PORT": str(self.port),
            "STUDIOBOT_WEBHOOK_PATH": WEBHOOK_PATH,
            **(extra_env or {}),
        }
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{WEBHOOK_PATH}"

    async def start(self, timeout: float = 60) -> None:  # noqa: ASYNC109 - a deadline
        """Start the process and wait until its webhook accepts connections."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "studiobot.cli",
                "run",
                "--webhook",
                env=self.env,
                cwd=str(ROOT),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"worker {self.name} exited with {self.proc.returncode} before serving:\n"
                    f"{self.log()[-3000:]}"
                )
            try:
                _reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(
                        f"worker {self.name} does not listen on {self.port}:\n{self.log()[-3000:]}"
                    ) from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self, grace: float = 15) -> None:
        """SIGTERM (the worker finishes the updates in hand), SIGKILL after ``grace``."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        """Characters logged so far: pass it to :meth:`problems` to see only what follows."""
        return len(self.log())

    def problems(self, since: int = 0) -> list[str]:
        """ERROR/CRITICAL lines and the exception lines of tracebacks logged after ``since``."""
        lines = self.log()[since:].splitlines()
        found = []
        for i, line in enumerate(lines):
            if _PROBLEM.search(line):
                if line.startswith("Traceback"):
                    # The exception itself is the first unindented line after the frames.
                    tail = next(
                        (x for x in lines[i + 1 :] if x and not x.startswith(" ")), "(no message)"
                    )
                    found.append(f"{self.name}: {tail[:400]}")
                else:
                    found.append(f"{self.name}: {line[:400]}")
        return found

    async def post(
        self,
        http: aiohttp.ClientSession,
        update: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
    ) -> int:
        """Post one update (a dict is sent as JSON, bytes as they are); the HTTP status."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json", SECRET_HEADER: secret or self.secret}
        async with http.post(self.url, data=body, headers=headers) as response:
            await response.read()
            return response.status


async def start_all(workers: list[WebhookWorker]) -> None:
    """Start workers side by side (each needs a second or two to import and migrate)."""
    try:
        await asyncio.gather(*(w.start() for w in workers))
    except BaseException:
        await stop_all(workers)
        raise


async def stop_all(workers: list[WebhookWorker]) -> None:
    await asyncio.gather(*(w.stop() for w in workers))
