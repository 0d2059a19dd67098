"""The Mosquitto that the MQTT tests of one test process share.

Each process (each pytest-xdist worker) starts its own on a free port the first time this
module is imported, so one worker's bridge never reads the publications of another worker's
tests on the standard topics. Where mosquitto is not installed, the machine's broker at
127.0.0.1:1883 is used, as before, and the tests skip when nothing listens there."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
MACHINE_BROKER = ("127.0.0.1", 1883)
START_SECONDS = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(address: tuple[str, int]) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(address) == 0


def _start() -> tuple[str, int] | None:
    if MOSQUITTO is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="smartcity-mqtt-"))
    port = _free_port()
    config = directory / "mosquitto.conf"
    # As root, Mosquitto would drop to its own user; nothing is persisted, so that is moot.
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n")
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    atexit.register(process.terminate)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if _accepts(("127.0.0.1", port)):
            return ("127.0.0.1", port)
        time.sleep(0.02)  # polling the listener with a deadline, not waiting a fixed time
    process.terminate()
    return None


SHARED = _start() or MACHINE_BROKER
SHARED_URL = f"mqtt://{SHARED[0]}:{SHARED[1]}"
