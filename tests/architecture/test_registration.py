"""Importing a file registers nothing: every ``smartcity`` module imported in a random order
(in a fresh interpreter, so nothing this test session imported counts) leaves the case
engine's registries and core.authz empty, and the platform ``create_app`` then builds is the
same whatever the order."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ORDERS = (11, 23, 47)  # seeds of three import orders

# Runs in a fresh interpreter: import everything in a seeded random order, describe the
# registries, build the app, describe them again.
SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, random, sys, tempfile
    from pathlib import Path

    import smartcity

    names = sorted(m.name for m in pkgutil.walk_packages(smartcity.__path__, "smartcity."))
    random.Random(int(sys.argv[1])).shuffle(names)
    for name in names:
        importlib.import_module(name)


    def named(fn):
        return f"{fn.__module__}.{fn.__qualname__}"


    def describe():
        from smartcity.cases import hooks, supervision, types
        from smartcity.core import authz

        return {
            "case_types": [repr(ct) for ct in types.case_types()],
            "hooks": [
                [h.name, h.case_type_prefix, named(h.run), list(h.after), list(h.before)]
                for h in hooks.installed_hooks()
            ],
            "panels": [[p.case_type_prefix, named(p.build)] for p in hooks.installed_panels()],
            "read_hooks": [
                [r.case_type_prefix, named(r.run)] for r in hooks.installed_read_hooks()
            ],
            "category_names": [named(r) for r in supervision.installed_category_names()],
            "actions": {a: sorted(who) for a, who in sorted(authz.known_actions().items())},
            "rules": {a: named(rule) for a, rule in sorted(authz._RULES.items())},
        }


    before = describe()
    from smartcity.app import create_app
    from smartcity.settings import Settings

    var = Path(tempfile.mkdtemp())
    create_app(Settings(var_dir=var, secret_key="registration-test-secret-0123456789"))
    print(json.dumps({"imported": len(names), "before": before, "after": describe()}))
    """
)


@cache
def _run(seed: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(seed)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("seed", ORDERS)
def test_importing_registers_no_case_type_hook_panel_or_category(seed: int) -> None:
    result = _run(seed)
    assert result["imported"] > 150  # every file, not a few
    before = result["before"]
    assert before["case_types"] == []
    assert before["hooks"] == []
    assert before["panels"] == []
    assert before["read_hooks"] == []
    assert before["category_names"] == []


@pytest.mark.parametrize("seed", ORDERS)
def test_importing_registers_no_action_or_rule(seed: int) -> None:
    before = _run(seed)["before"]
    assert before["actions"] == {}
    assert before["rules"] == {}


def test_the_app_builds_the_same_platform_in_every_import_order() -> None:
    first, *others = [_run(seed)["after"] for seed in ORDERS]
    assert first["case_types"] and first["hooks"] and first["panels"] and first["read_hooks"]
    assert first["category_names"] and first["actions"] and first["rules"]
    # the service hall's notice follows the licence it announces
    hook_names = [h[0] for h in first["hooks"]]
    assert hook_names.index("services.licence.issue") < hook_names.index(
        "services.notice.notify_applicant"
    )
    for other in others:
        assert other == first
