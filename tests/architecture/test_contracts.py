"""The import contracts hold what they say: on a small package of their own shape, a domain
reaching into an engine's models breaks them, and the same domain through the engine's
contract keeps them. (The platform itself is checked by lint-imports in ./scripts/test.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[importlinter]
root_package = town
contract_types =
    through_entry: tests.architecture.contracts.ThroughEntryContract

[importlinter:contract:layers]
name = Layers
type = layers
layers =
    town.app
    town.domain
    town.engine

[importlinter:contract:entry]
name = Through the contract
type = through_entry
packages =
    town.engine
entry = contract
exempt =
    town.app

[importlinter:contract:models]
name = Own models
type = forbidden
source_modules =
    town.domain
forbidden_modules =
    town.engine.models
allow_indirect_imports = true
"""


def _town(tmp_path: Path, domain_imports: str) -> Path:
    files = {
        "town/__init__.py": "",
        "town/app.py": "from town.engine import MODULE\nfrom town.domain import service\n",
        "town/engine/__init__.py": "MODULE = 'engine'\n",
        "town/engine/models.py": "class Case: ...\n",
        "town/engine/contract.py": "from town.engine.models import Case\n\ndef open_case(): ...\n",
        "town/domain/__init__.py": "",
        "town/domain/service.py": domain_imports,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "importlinter.ini").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def _lint(town: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": f"{town}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [str(lint), "--config", str(town / "importlinter.ini"), "--no-cache"],
        cwd=town,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_through_the_contract_is_kept(tmp_path: Path) -> None:
    done = _lint(_town(tmp_path, "from town.engine.contract import open_case\n"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("imports", "broken"),
    [
        # the engine's tables: both the entry rule and the models rule
        ("from town.engine.models import Case\n", 2),
        # the engine's package itself (its MODULE): only the app and the CLI mount modules
        ("from town.engine import MODULE\n", 1),
        # an upward import: an engine reaching a domain breaks the layers
        ("from town.engine.contract import open_case\n", None),
    ],
)
def test_reaching_past_the_contract_breaks_it(
    tmp_path: Path, imports: str, broken: int | None
) -> None:
    town = _town(tmp_path, imports)
    if broken is None:
        (town / "town/engine/models.py").write_text(
            "from town.domain import service\n\nclass Case: ...\n", encoding="utf-8"
        )
        broken = 1
    done = _lint(town)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{3 - broken} kept, {broken} broken" in done.stdout, done.stdout
