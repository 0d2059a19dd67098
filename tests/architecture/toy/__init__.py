"""A toy domain for tests/architecture/test_toy_domain.py: a case type with a hook and a page,
all in this folder and declared in its MODULE, so adding it to the platform is one line in
``modules()``. Further declarations (e.g. a sensing rule) go into ``extends`` the same way."""

from __future__ import annotations

from smartcity.cases.contract import OnTransition
from smartcity.core.module import Module
from tests.architecture.toy import hooks, pages, types

MODULE = Module(
    name="toy",
    pages=pages.router,
    extends=(
        types.PERMIT,
        OnTransition("toy.tell_applicant", types.NAME, hooks.tell_applicant),
    ),
    # outside the smartcity package: where app.py finds its templates/
    extra={"package": "tests.architecture.toy"},
)
