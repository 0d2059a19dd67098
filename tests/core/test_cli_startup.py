"""The smartcity command starts without importing the platform, loads module groups on use,
and says plainly when the database was never migrated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartcity.cli import MODULE_GROUPS, app

HEAVY = ("fastapi", "sqlalchemy", "smartcity.app", "smartcity.core.db", "smartcity.registry")


def _modules_after(*argv: str) -> tuple[list[str], str, int]:
    """Run the command in a fresh interpreter; report which heavy modules it imported."""
    probe = (
        "import sys, json\n"
        "from smartcity import cli\n"
        f"sys.argv = ['smartcity', *{list(argv)!r}]\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as exit:\n"
        "    code = exit.code or 0\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    imported = json.loads(done.stderr.strip().splitlines()[-1])
    return imported, done.stdout, done.returncode


def test_help_imports_no_platform_module() -> None:
    imported, out, code = _modules_after("--help")
    assert code == 0
    assert imported == []
    for name in ("users", "db", *MODULE_GROUPS):
        assert name in out


def test_a_module_group_is_loaded_when_used() -> None:
    imported, out, code = _modules_after("registry", "--help")
    assert code == 0
    assert "smartcity.registry" in imported
    assert "import" in out


def test_module_group_help_matches_the_modules_own() -> None:
    from smartcity.app import modules

    own = {m.name: m.cli.info.help for m in modules() if m.cli is not None}
    assert own == MODULE_GROUPS


def test_unknown_group_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["no-such-group"])
    assert result.exit_code == 2
    assert "No such command" in result.output


@pytest.mark.parametrize("argv", [("users", "list"), ("audit", "verify"), ("serve",)])
def test_never_migrated_database_says_so_in_one_line(tmp_path: Path, argv: tuple[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "smartcity.cli", *argv, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SMARTCITY_VAR_DIR": str(tmp_path)},
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "never migrated" in lines[0]
    assert "smartcity db upgrade" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
