"""Names and free text people type: one rule for every API schema and form field.

Refused: control characters (NUL, the ESC of ANSI escapes, every other C0 and C1 control,
DEL), the bidirectional overrides and isolates that make text display in another order
than it is stored (U+202A–U+202E, U+2066–U+2069), and values that are only whitespace.
Multi-line free text keeps newline, carriage return and tab; a name is one line.

In schemas: ``name: Name = Field(max_length=100)`` or ``comment: FreeText = Field(...)``.
In services and forms that take a string without a schema: ``clean_name(value, "field")``,
which raises InvalidInput naming the field (a 422 problem, or the marked field on a page).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _

_BIDI = "\u202a-\u202e\u2066-\u2069"
CONTROLS_IN_NAME = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
CONTROLS_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")

CONTROL_MESSAGE = N_("Remove the control or text-direction characters from this field.")
BLANK_MESSAGE = N_("This field cannot be only spaces.")


def text_problem(value: str, *, multi_line: bool) -> str | None:
    """What is wrong with a typed value (a msgid), or None. An empty value is no problem
    here: whether a field may be empty is the field's own rule (min_length)."""
    pattern = CONTROLS_IN_TEXT if multi_line else CONTROLS_IN_NAME
    if pattern.search(value):
        return CONTROL_MESSAGE
    if value and not value.strip():
        return BLANK_MESSAGE
    return None


def _name(value: str) -> str:
    problem = text_problem(value, multi_line=False)
    if problem:
        raise ValueError(_(problem))
    return value.strip()


def _free_text(value: str) -> str:
    problem = text_problem(value, multi_line=True)
    if problem:
        raise ValueError(_(problem))
    return value


# A name or title on one line (display names, departments, rules, Things); trimmed.
Name = Annotated[str, AfterValidator(_name)]
# Free text that may run over several lines (comments, reasons, descriptions).
FreeText = Annotated[str, AfterValidator(_free_text)]


def clean_name(value: str, field: str) -> str:
    """A one-line name from a form or a service argument, trimmed, or 422 naming the field."""
    problem = text_problem(value, multi_line=False)
    if problem:
        raise InvalidInput(_(problem), field=field)
    return value.strip()


def clean_text(value: str, field: str) -> str:
    """Multi-line free text from a form or a service argument, or 422 naming the field."""
    problem = text_problem(value, multi_line=True)
    if problem:
        raise InvalidInput(_(problem), field=field)
    return value
