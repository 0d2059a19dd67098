"""Importing a file of core, the portal, the registry or the exchange registers nothing:
their actions and object rules reach core.authz only through core.module.install, and the
registry's FieldGrants only through the exchange's MODULE."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import smartcity

PACKAGES = ("core", "portal", "registry", "exchange")


def _files() -> list[str]:
    root = Path(smartcity.__file__).parent
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root.parent).with_suffix("").parts
            names.append(".".join(p for p in parts if p != "__init__"))
    return names


def test_importing_every_file_registers_no_action_rule_or_grant() -> None:
    probe = (
        "import importlib, json, random, sys\n"
        f"names = {_files()!r}\n"
        "random.Random(11).shuffle(names)\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "from smartcity.core import authz\n"
        "from smartcity.registry import service\n"
        "print(json.dumps([sorted(authz._ACTIONS), sorted(authz._RULES),"
        " len(service._FIELD_GRANTS)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[], [], 0]


def test_install_registers_what_the_modules_declare() -> None:
    from smartcity.app import modules
    from smartcity.core import authz
    from smartcity.core.module import install
    from smartcity.exchange import MODULE as exchange
    from smartcity.exchange import grants
    from smartcity.registry import service

    install(modules())
    assert set(exchange.actions) <= set(authz.known_actions())
    assert authz._RULES["exchange.grant.decide"] is exchange.rules["exchange.grant.decide"]
    assert [g.granted for g in service._FIELD_GRANTS] == [grants.registry_fields_granted]
