"""Declared case types: the start-up validation of their states, transitions and limits."""

from __future__ import annotations

import pytest

from smartcity.cases.types import (
    CaseTypeError,
    Limits,
    State,
    Transition,
    get_case_type,
    register_case_type,
    validate_case_type,
)
from tests.cases.factories import APPLICATION, STAFF, variant


def _error(ct: object) -> str:
    with pytest.raises(CaseTypeError) as info:
        validate_case_type(ct)  # type: ignore[arg-type]
    return str(info.value)


class TestValidateCaseType:
    def test_sample_application_type_is_valid(self) -> None:
        validate_case_type(APPLICATION)
        assert register_case_type(APPLICATION) is APPLICATION
        assert get_case_type("test.application") is APPLICATION
        assert APPLICATION.state("awaiting_supplement").kind == "waiting_applicant"

    def test_unreachable_state(self) -> None:
        ct = variant(states=(*APPLICATION.states, State("archived", "归档", "final")))
        assert "state 'archived' is unreachable" in _error(ct)

    def test_final_state_with_outgoing_transition(self) -> None:
        reopen = Transition("reopen", "重开", ("delivered",), "reviewing", STAFF)
        ct = variant(transitions=(*APPLICATION.transitions, reopen))
        assert "final state 'delivered' has outgoing transition 'reopen'" in _error(ct)

    def test_transition_from_unknown_state(self) -> None:
        bad = Transition("x", "x", ("nowhere",), "reviewing", STAFF)
        ct = variant(transitions=(*APPLICATION.transitions, bad))
        assert "starts from unknown state 'nowhere'" in _error(ct)

    def test_transition_to_unknown_state(self) -> None:
        bad = Transition("x", "x", ("reviewing",), "limbo", STAFF)
        ct = variant(transitions=(*APPLICATION.transitions, bad))
        assert "leads to unknown state 'limbo'" in _error(ct)

    def test_non_final_state_without_way_out(self) -> None:
        # approved loses its only way out (送达)
        ct = variant(transitions=tuple(t for t in APPLICATION.transitions if t.name != "deliver"))
        message = _error(ct)
        assert "'approved' is not final but has no way out" in message

    def test_missing_statutory_limit(self) -> None:
        ct = variant(limits=Limits(statutory_days=None))
        assert "no statutory time limit" in _error(ct)

    def test_promised_over_statutory(self) -> None:
        ct = variant(limits=Limits(statutory_days=10, promised_days=15))
        assert "promises 15 working days, more than the statutory 10" in _error(ct)

    def test_unknown_role(self) -> None:
        bad = Transition("x", "x", ("reviewing",), "approved", frozenset({"mayor"}))
        ct = variant(transitions=(*APPLICATION.transitions, bad))
        message = _error(ct)
        assert "unknown role 'mayor'" in message
        assert "department" in message  # the message lists what is known

    def test_known_kinds_roles_and_pseudo_roles_pass(self) -> None:
        who = frozenset({"supervisor", "auditor", "citizen", "enterprise", "applicant"})
        ok = Transition("y", "y", ("reviewing",), "approved", who)
        validate_case_type(variant(transitions=(*APPLICATION.transitions, ok)))

    def test_unknown_initial_state(self) -> None:
        assert "initial state 'draft' is not declared" in _error(variant(initial="draft"))

    def test_step_limit_for_unknown_state(self) -> None:
        ct = variant(limits=Limits(statutory_days=20, step_days=(("ghost", 2),)))
        assert "step limit for unknown state 'ghost'" in _error(ct)

    def test_bad_warning_share(self) -> None:
        ct = variant(limits=Limits(statutory_days=20, warning_share=1.5))
        assert "warning share" in _error(ct)

    def test_register_refuses_a_different_definition_under_the_same_name(self) -> None:
        register_case_type(APPLICATION)
        with pytest.raises(CaseTypeError, match="already registered"):
            register_case_type(variant(title="另一个"))

    def test_unknown_type_lookup(self) -> None:
        with pytest.raises(LookupError):
            get_case_type("no.such.type")


class TestInstall:
    def test_a_module_declares_its_types_and_install_replaces_the_old_ones(self) -> None:
        from smartcity.app import modules
        from smartcity.core.module import Module, install

        other = variant(name="test.other")
        install([*modules(), Module(name="tests.other", extends=(other,))])
        assert get_case_type("test.other") is other
        assert get_case_type("test.application") is APPLICATION  # the fixtures' module
        install(modules())
        with pytest.raises(LookupError):
            get_case_type("test.other")

    def test_an_unrunnable_type_stops_the_start_and_leaves_the_platform_as_it_was(
        self,
    ) -> None:
        from smartcity.app import modules
        from smartcity.core.module import Module, install

        broken = variant(name="test.broken", initial="ghost")
        with pytest.raises(CaseTypeError, match="initial state 'ghost'"):
            install([*modules(), Module(name="tests.broken", extends=(broken,))])
        assert get_case_type("test.application") is APPLICATION
        with pytest.raises(LookupError):
            get_case_type("test.broken")
