"""Layering rules of DESIGN.md that a linter does not know: reads go through the service's
readable_<things>() queries, so api.py and pages.py never build their own queries."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "smartcity"
RAW_QUERY = re.compile(r"\b(select|insert|update|delete)\(\s*[A-Z]")


def test_no_raw_queries_in_routers_and_pages() -> None:
    offenders = []
    for path in sorted([*SRC.rglob("api.py"), *SRC.rglob("pages.py")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_QUERY.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_services_never_commit() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name in ("db.py", "uow.py", "runtime.py", "migrate.py"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "await session.commit()" in line:
                offenders.append(f"{path.relative_to(SRC)}:{number}")
    assert offenders == []
