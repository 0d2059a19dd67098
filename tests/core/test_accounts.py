"""Accounts, departments, sign-in with lockout and TOTP, API keys (core.accounts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from smartcity.core import accounts, clock
from smartcity.core.accounts import SignIn
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry
from smartcity.core.schemas import AccountCreate, AccountUpdate, DepartmentCreate
from tests.core import factories
from tests.core.factories import PASSWORD, ROOT

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def audit_actions(session, target: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(AuditEntry.action, AuditEntry.outcome)
        .where(AuditEntry.target == target)
        .order_by(AuditEntry.seq)
    )
    return [tuple(r) for r in rows]


class TestCreateDepartment:
    async def test_creates_and_audits(self, session):
        dep = await accounts.create_department(
            session, ROOT, DepartmentCreate(code="SWJX", name="水务局", name_en="Water")
        )
        assert dep.code == "SWJX"
        assert ("core.department.create", "success") in await audit_actions(session, "SWJX")

    async def test_duplicate_code_is_a_conflict(self, session):
        await factories.create_department(session, code="DUPX")
        with pytest.raises(Conflict) as exc:
            await factories.create_department(session, code="DUPX")
        assert exc.value.extensions["field"] == "code"

    async def test_staff_may_not(self, session):
        staff = factories.principal(await factories.create_account(session, kind="staff"))
        with pytest.raises(Forbidden):
            await accounts.create_department(
                session, staff, DepartmentCreate(code="NOPE", name="不行局")
            )

    def test_bad_code_is_refused_by_the_schema(self):
        with pytest.raises(ValueError, match="code"):
            DepartmentCreate(code="lower", name="小写局")


class TestCreateAccount:
    async def test_generated_password_must_be_changed(self, session):
        dep = await factories.create_department(session)
        account, generated = await accounts.create_account(
            session,
            ROOT,
            AccountCreate(
                username="wang.xy", display_name="王晓燕", kind="staff", department_code=dep.code
            ),
        )
        assert generated is not None and len(generated) >= 10
        assert account.must_change_password is True
        assert account.password_hash and generated not in account.password_hash
        assert ("core.account.create", "success") in await audit_actions(session, "wang.xy")

    async def test_staff_needs_a_department(self, session):
        with pytest.raises(InvalidInput) as exc:
            await accounts.create_account(
                session, ROOT, AccountCreate(username="nodep", display_name="x", kind="staff")
            )
        assert exc.value.extensions["field"] == "department_code"

    async def test_unknown_department(self, session):
        with pytest.raises(NotFound):
            await accounts.create_account(
                session,
                ROOT,
                AccountCreate(
                    username="ghost", display_name="x", kind="staff", department_code="NOSUCH"
                ),
            )

    async def test_weak_password(self, session):
        with pytest.raises(InvalidInput) as exc:
            await accounts.create_account(
                session,
                ROOT,
                AccountCreate(
                    username="weakling", display_name="x", kind="citizen", password="password"
                ),
            )
        assert exc.value.extensions["field"] == "password"

    async def test_password_containing_username(self, session):
        with pytest.raises(InvalidInput):
            await accounts.create_account(
                session,
                ROOT,
                AccountCreate(
                    username="zhangwei", display_name="x", kind="citizen", password="Zhangwei-2026!"
                ),
            )

    async def test_taken_username(self, session):
        await factories.create_account(session, username="taken.one")
        with pytest.raises(Conflict):
            await factories.create_account(session, username="taken.one")

    async def test_unknown_role(self, session):
        with pytest.raises(InvalidInput) as exc:
            await factories.create_account(session, kind="admin", roles=["superuser"])
        assert "superuser" in exc.value.detail

    async def test_machine_accounts_have_no_password(self, session):
        account = await factories.create_account(session, kind="device")
        assert account.password_hash is None

    @pytest.mark.parametrize("username", ["ab", "Upper", "1digit", "has space", "x" * 65])
    def test_bad_usernames(self, username):
        with pytest.raises(ValueError):
            AccountCreate(username=username, display_name="x", kind="citizen")

    async def test_staff_cannot_create_accounts(self, session):
        staff = factories.principal(await factories.create_account(session, kind="staff"))
        with pytest.raises(Forbidden):
            await factories.create_account(session)  # ROOT works ...
            await accounts.create_account(
                session,
                staff,
                AccountCreate(  # ... staff does not
                    username="sneaky", display_name="x", kind="admin"
                ),
            )


class TestSignIn:
    async def test_citizen_with_password(self, session):
        account = await factories.create_account(session)
        with clock.frozen(T0):
            result = await accounts.sign_in(session, account.username, PASSWORD, ip="10.0.0.1")
        assert result.outcome == SignIn.ok
        assert result.account.last_login_at == T0
        assert ("core.sign_in", "success") in await audit_actions(session, account.username)

    async def test_wrong_password_is_counted_and_audited(self, session):
        account = await factories.create_account(session)
        result = await accounts.sign_in(session, account.username, "wrong-password")
        assert result.outcome == SignIn.failed
        assert account.failed_logins == 1
        assert ("core.sign_in", "failure") in await audit_actions(session, account.username)

    async def test_unknown_user_fails_like_a_wrong_password(self, session):
        result = await accounts.sign_in(session, "nobody.here", "whatever")
        assert result.outcome == SignIn.failed
        assert ("core.sign_in", "failure") in await audit_actions(session, "nobody.here")

    async def test_lockout_after_five_failures_with_backoff(self, session):
        account = await factories.create_account(session)
        with clock.frozen(T0) as advance:
            outcomes = [
                (await accounts.sign_in(session, account.username, "nope")).outcome
                for _ in range(5)
            ]
            assert outcomes == [SignIn.failed] * 4 + [SignIn.locked]
            assert account.locked_until == T0 + timedelta(minutes=15)
            # Even the right password is refused while locked.
            assert (
                await accounts.sign_in(session, account.username, PASSWORD)
            ).outcome == SignIn.locked
            advance(timedelta(minutes=16))
            again = await accounts.sign_in(session, account.username, "still-wrong")
            # The sixth failure doubles the lock.
            assert again.outcome == SignIn.locked
            assert account.locked_until == clock.now() + timedelta(minutes=30)
            advance(timedelta(minutes=31))
            ok = await accounts.sign_in(session, account.username, PASSWORD)
        assert ok.outcome == SignIn.ok
        assert account.failed_logins == 0 and account.locked_until is None

    async def test_staff_without_totp_must_enrol(self, session):
        account = await factories.create_account(session, kind="staff")
        result = await accounts.sign_in(session, account.username, PASSWORD)
        assert result.outcome == SignIn.need_enrolment

    async def test_staff_with_totp(self, session):
        account = await factories.create_account(session, kind="staff", totp_secret=SECRET)
        with clock.frozen(T0):
            assert (
                await accounts.sign_in(session, account.username, PASSWORD)
            ).outcome == SignIn.need_totp
            code = factories.totp_code(SECRET, T0)
            result = await accounts.sign_in(session, account.username, PASSWORD, totp=code)
            assert result.outcome == SignIn.ok
            # The same code cannot be used twice (replay).
            replay = await accounts.finish_totp(session, account, code)
        assert replay.outcome == SignIn.failed

    async def test_wrong_totp_counts_towards_lockout(self, session):
        account = await factories.create_account(session, kind="admin", totp_secret=SECRET)
        with clock.frozen(T0):
            for _ in range(5):
                result = await accounts.finish_totp(session, account, "000000")
        assert result.outcome == SignIn.locked

    @pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567"])
    async def test_malformed_totp(self, session, code):
        account = await factories.create_account(session, kind="staff", totp_secret=SECRET)
        assert (await accounts.finish_totp(session, account, code)).outcome == SignIn.failed

    async def test_deactivated_account_cannot_sign_in(self, session):
        account = await factories.create_account(session)
        await accounts.update_account(session, ROOT, account.username, AccountUpdate(active=False))
        assert (
            await accounts.sign_in(session, account.username, PASSWORD)
        ).outcome == SignIn.failed

    async def test_machine_account_cannot_use_passwords(self, session):
        account = await factories.create_account(session, kind="system")
        assert (await accounts.sign_in(session, account.username, "")).outcome == SignIn.failed


class TestTotpEnrolment:
    async def test_enrol_then_confirm(self, session):
        account = await factories.create_account(session, kind="supervisor")
        secret = await accounts.begin_totp_enrolment(session, account)
        assert secret not in (account.totp_secret_enc or "")  # sealed at rest
        with clock.frozen(T0):
            right = factories.totp_code(secret, T0)
            wrong = f"{(int(right) + 1) % 1_000_000:06d}"
            assert not await accounts.confirm_totp_enrolment(session, account, wrong)
            assert not account.totp_enabled
            assert await accounts.confirm_totp_enrolment(
                session, account, factories.totp_code(secret, T0)
            )
        assert account.totp_enabled

    async def test_enrol_twice_is_a_conflict(self, session):
        account = await factories.create_account(session, kind="staff", totp_secret=SECRET)
        with pytest.raises(Conflict):
            await accounts.begin_totp_enrolment(session, account)

    async def test_reset_totp(self, session):
        account = await factories.create_account(session, kind="staff", totp_secret=SECRET)
        await accounts.reset_totp(session, ROOT, account.username)
        assert not account.totp_enabled and account.totp_secret_enc is None
        assert ("core.account.reset_totp", "success") in await audit_actions(
            session, account.username
        )


class TestChangePassword:
    async def test_change(self, session):
        account = await factories.create_account(session)
        me = factories.principal(account)
        await accounts.change_password(session, me, current=PASSWORD, new="New-Password-2026")
        assert (
            await accounts.sign_in(session, account.username, "New-Password-2026")
        ).outcome == SignIn.ok

    async def test_wrong_current(self, session):
        account = await factories.create_account(session)
        with pytest.raises(InvalidInput) as exc:
            await accounts.change_password(
                session, factories.principal(account), current="wrong", new="New-Password-2026"
            )
        assert exc.value.extensions["field"] == "current_password"

    async def test_same_as_before(self, session):
        account = await factories.create_account(session)
        with pytest.raises(InvalidInput):
            await accounts.change_password(
                session, factories.principal(account), current=PASSWORD, new=PASSWORD
            )


class TestRoles:
    async def test_role_change_is_audited(self, session):
        account = await factories.create_account(session, kind="admin")
        await accounts.update_account(
            session, ROOT, account.username, AccountUpdate(roles=["auditor"])
        )
        assert account.roles == ["auditor"]
        entry = (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "core.account.update",
                    AuditEntry.target == account.username,
                )
            )
        ).scalar_one()
        assert entry.detail["changes"]["roles"] == {"from": [], "to": ["auditor"]}

    async def test_cannot_deactivate_self(self, session):
        account = await factories.create_account(session, kind="admin", roles=["security"])
        me = factories.principal(account)
        with pytest.raises(InvalidInput):
            await accounts.update_account(
                session, me, account.username, AccountUpdate(active=False)
            )

    async def test_reset_password_unlocks(self, session):
        account = await factories.create_account(session)
        account.locked_until = clock.now() + timedelta(hours=1)
        password = await accounts.reset_password(session, ROOT, account.username)
        assert account.locked_until is None and account.must_change_password
        assert (await accounts.sign_in(session, account.username, password)).outcome == SignIn.ok


class TestApiKeys:
    async def test_issue_and_revoke(self, session):
        device = await factories.create_account(session, kind="device")
        row, key = await accounts.issue_api_key(
            session, ROOT, username=device.username, name="station"
        )
        assert key.startswith(f"sck_{row.prefix}_") and key not in row.key_hash
        await accounts.revoke_api_key(session, ROOT, row.prefix)
        assert row.revoked_at is not None
        actions = await audit_actions(session, device.username)
        assert ("core.api_key.issue", "success") in actions

    async def test_people_get_no_keys(self, session):
        citizen = await factories.create_account(session)
        with pytest.raises(InvalidInput):
            await accounts.issue_api_key(session, ROOT, username=citizen.username, name="x")

    async def test_expiry_in_the_past(self, session):
        device = await factories.create_account(session, kind="device")
        with pytest.raises(InvalidInput):
            await accounts.issue_api_key(
                session,
                ROOT,
                username=device.username,
                name="x",
                expires_at=clock.now() - timedelta(days=1),
            )

    async def test_revoke_unknown(self, session):
        with pytest.raises(NotFound):
            await accounts.revoke_api_key(session, ROOT, "nosuchprefix")

    async def test_citizen_sees_only_own_account(self, session):
        citizen = await factories.create_account(session)
        await factories.create_account(session)
        rows, total = await accounts.list_accounts(session, factories.principal(citizen))
        assert [r.id for r in rows] == [citizen.id] and total == 1


def test_root_is_an_admin() -> None:
    assert isinstance(ROOT, Principal) and ROOT.is_("admin")
