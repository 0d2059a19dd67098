"""Benchmark of document signatures (数字签名): SM2 国密 and P-256, sign and verify per second.

Usage: python bench/signing.py [--seconds 3]

Each figure is one thread signing or verifying a 1 KiB message for ``--seconds``. "with a
loaded key" is the bare signature; the API rows add what sign() and verify() do on every
call: decrypting the PKCS#8 private key (PBKDF2 + cipher) or parsing the public key PEM.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from smartcity.core import signing

SECRET = b"bench-instance-secret"
MESSAGE = secrets.token_bytes(1024)


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` over about ``seconds``."""
    operation()  # warm up (first-call setup, caches)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        for _ in range(10):  # amortise the clock read
            operation()
        count += 10
        now = time.perf_counter()
    return count / (now - start)


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo: platform.processor() is often empty on Linux."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    print(f"processor:  {platform.processor() or '(empty)'} [{platform.machine()}]")
    print(f"cpu model:  {cpu_model()}")
    print(f"cpu_count:  {os.cpu_count()}")
    print(f"python:     {sys.version.split()[0]} ({platform.python_implementation()})")
    print(f"libraries:  cryptography {version('cryptography')}, tongsuopy {version('tongsuopy')}")
    print(f"message:    {len(MESSAGE)} bytes; {args.seconds:g} s per measurement, one thread")
    print()
    print(f"{'algorithm':<10}{'operation':<32}{'ops/s':>12}")

    for algorithm in signing.ALGORITHMS:
        for label, ops in measure(algorithm, args.seconds):
            print(f"{algorithm:<10}{label:<32}{ops:>12,.0f}", flush=True)


def measure(algorithm: str, seconds: float) -> list[tuple[str, float]]:
    """Sign and verify rates of one algorithm, with loaded keys and through the API."""
    pair = signing.generate_key(algorithm, SECRET)
    private_key = signing.load_private_key(algorithm, pair.private_key_pem_encrypted, SECRET)
    public_key = signing.load_public_key(algorithm, pair.public_key_pem)
    signature = signing.sign_with_key(algorithm, private_key, MESSAGE)
    # A benchmark of a verify that fails would measure the wrong path.
    assert signing.verify_with_key(algorithm, public_key, MESSAGE, signature)
    operations: list[tuple[str, Callable[[], object]]] = [
        (
            "sign, with a loaded key",
            lambda: signing.sign_with_key(algorithm, private_key, MESSAGE),
        ),
        (
            "verify, with a loaded key",
            lambda: signing.verify_with_key(algorithm, public_key, MESSAGE, signature),
        ),
        (
            "sign() (decrypts the key)",
            lambda: signing.sign(algorithm, pair.private_key_pem_encrypted, SECRET, MESSAGE),
        ),
        (
            "verify() (parses the PEM)",
            lambda: signing.verify(algorithm, pair.public_key_pem, MESSAGE, signature),
        ),
    ]
    return [(label, rate(operation, seconds)) for label, operation in operations]


if __name__ == "__main__":
    main()
