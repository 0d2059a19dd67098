"""Authorization: who is calling (Principal), and whether they may take an action.

Three layers, as DESIGN.md says: (1) an ``Annotated`` dependency admits principal kinds at the
route; (2) every read starts from a ``readable_<things>(principal)`` query, so unreadable rows
are 404s; (3) services call ``authorize(principal, action, obj)`` before changing anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from smartcity.core.errors import Forbidden
from smartcity.core.i18n import gettext


@dataclass(frozen=True)
class Principal:
    """The caller of a request, job, CLI command or bus message."""

    id: uuid.UUID | None
    kind: str
    name: str
    department_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # How they authenticated: "session", "token", "api_key", "cli", "system".
    via: str = "system"
    # The name people read (姓名 or the organisation's name); ``name`` is the login.
    display_name: str = ""

    @property
    def grants(self) -> frozenset[str]:
        """The kind and the extra roles, which is what action rules name."""
        return self.roles | {self.kind}

    def is_(self, *kinds_or_roles: str) -> bool:
        return bool(self.grants & set(kinds_or_roles))


# The platform itself, for jobs and bus handlers that act on no one's behalf.
SYSTEM = Principal(id=None, kind="system", name="platform", via="system")


class DepartmentOwned(Protocol):
    department_id: uuid.UUID | None


# Attribute rules: an action may also need the object to pass a predicate, e.g. that staff
# act only on their own department's records. Registered by modules next to their actions.
ObjectRule = Callable[[Principal, Any], bool]

_ACTIONS: dict[str, frozenset[str]] = {}
_RULES: dict[str, ObjectRule] = {}


def register_actions(actions: Mapping[str, Iterable[str]]) -> None:
    for action, allowed in actions.items():
        _ACTIONS[action] = frozenset(allowed)


def register_rule(action: str, rule: ObjectRule) -> None:
    _RULES[action] = rule


def replace_registrations(
    actions: Mapping[str, Iterable[str]], rules: Mapping[str, ObjectRule]
) -> None:
    """What core.module.install registers: exactly these actions and rules, nothing older."""
    _ACTIONS.clear()
    _RULES.clear()
    register_actions(actions)
    _RULES.update(rules)


def known_actions() -> dict[str, frozenset[str]]:
    return dict(_ACTIONS)


def same_department(principal: Principal, obj: Any) -> bool:
    """Admins act anywhere; everyone else only on their own department's objects."""
    if principal.is_("admin"):
        return True
    return (
        principal.department_id is not None
        and getattr(obj, "department_id", None) == principal.department_id
    )


def can(principal: Principal, action: str, obj: Any = None) -> bool:
    allowed = _ACTIONS.get(action)
    if allowed is None:
        # Deny by default, and loudly: an unregistered action is a programming error.
        raise LookupError(f"unknown action {action!r}: register it in its module's ACTIONS")
    if not principal.grants & allowed:
        return False
    rule = _RULES.get(action)
    return rule is None or obj is None or rule(principal, obj)


def authorize(principal: Principal, action: str, obj: Any = None) -> None:
    """Raise a 403 problem unless the principal may take the action (on the object)."""
    if not can(principal, action, obj):
        raise Forbidden(
            gettext("Your account (%(kind)s) may not take this action (%(action)s).")
            % {"kind": gettext(principal.kind), "action": action},
            action=action,
        )
