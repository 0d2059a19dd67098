"""Without SMARTCITY_SECRET_KEY the instance secret lives in var_dir/secret.key: made on first
use, then read from disk once per process (every new visitor's form token is signed with it,
and a file read per request is blocking I/O on the event loop)."""

from __future__ import annotations

import stat
from pathlib import Path

from smartcity.settings import Settings


def test_the_secret_file_is_made_once_and_read_once(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", secret_key="")  # type: ignore[arg-type]
    first = settings.resolved_secret()
    path = tmp_path / "var" / "secret.key"
    assert path.read_bytes() == first and len(first) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"changed on disk")
    assert settings.resolved_secret() == first  # kept in memory, not read per call
    # Another var dir is another instance with a secret of its own.
    other = Settings(var_dir=tmp_path / "other", secret_key="")  # type: ignore[arg-type]
    assert other.resolved_secret() != first


def test_an_existing_secret_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"kept-secret-0123456789\n")
    settings = Settings(var_dir=tmp_path, secret_key="")  # type: ignore[arg-type]
    assert settings.resolved_secret() == b"kept-secret-0123456789"


def test_a_configured_secret_needs_no_file(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, secret_key="configured-0123456789")  # type: ignore[arg-type]
    assert settings.resolved_secret() == b"configured-0123456789"
    assert not (tmp_path / "secret.key").exists()
