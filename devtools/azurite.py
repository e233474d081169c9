"""Start and stop Azurite (the Azure Storage emulator, installed from npm into the repo).

Used by the local demo (`python -m devtools.demo`) and by the test suite's fixture: the real
blob, queue and table protocol, no storage fakes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite"

# Azurite's documented, public development account. Not a secret: every Azurite has it.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    pass


def ensure_installed() -> Path:
    """Install Azurite from the npm registry into node_modules/ if it is not there yet."""
    if AZURITE_BIN.exists():
        return AZURITE_BIN
    npm = shutil.which("npm")
    if not npm:
        raise AzuriteError("npm is needed to install Azurite (Node.js 18+): install Node.js, then run again")
    cmd = [npm, "ci" if (REPO / "package-lock.json").exists() else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(cmd, cwd=REPO, check=True)
    if not AZURITE_BIN.exists():
        raise AzuriteError(f"npm finished but {AZURITE_BIN} is missing")
    return AZURITE_BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Azurite:
    """One Azurite process. ``location=None`` keeps data in memory (lost when it stops)."""

    blob_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)
    table_port: int = field(default_factory=free_port)
    location: Path | None = None
    process: subprocess.Popen | None = None
    _log: object = None

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{DEV_ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{DEV_ACCOUNT};"
        )

    def start(self, timeout: float = 30.0) -> "Azurite":
        binary = ensure_installed()
        args = [
            str(binary),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--blobPort", str(self.blob_port),
            "--queuePort", str(self.queue_port),
            "--tablePort", str(self.table_port),
        ]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                raise AzuriteError(f"Azurite exited at start-up: {self._log.read().decode(errors='replace')[-2000:]}")
            if all(_listening(p) for p in (self.blob_port, self.queue_port, self.table_port)):
                return self
            time.sleep(0.1)
        self.stop()
        raise AzuriteError(f"Azurite did not listen on ports {self.blob_port}/{self.queue_port}/{self.table_port} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same ports (data survives only with a ``location``)."""
        self.stop()
        self.start()

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
