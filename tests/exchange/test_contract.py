"""What other modules read of the exchange (exchange.contract), and the fields its grants
give the registries (the FieldGrants the exchange declares in its MODULE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smartcity.core import clock
from smartcity.exchange import MODULE, contract, grants
from smartcity.registry import contract as registry
from tests.core.factories import ROOT
from tests.exchange import factories

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class TestGrantInForce:
    async def test_an_approved_grant_with_its_fields(self, session):
        resource = await factories.create_resource(session)
        with clock.frozen(T0):
            grant = await factories.grant(
                session,
                resource,
                "ZWSJJ",
                fields=["name", "sex"],
                expires_at=T0 + timedelta(days=3),
            )
            found = await contract.grant_in_force(
                session, resource.code, grant.consumer_department_id
            )
        assert found == contract.GrantInForce(
            resource.code,
            grant.consumer_department_id,
            True,
            "",
            ("name", "sex"),
            T0 + timedelta(days=3),
        )

    async def test_why_not(self, session):
        resource = await factories.create_resource(session)
        zw = await factories.department(session, "ZWSJJ")
        found = await contract.grant_in_force(session, resource.code, zw.id)
        assert (found.in_force, found.reason, found.fields) == (False, "no-grant", ())
        grant = await factories.grant(session, resource, "ZWSJJ")
        await grants.revoke_grant(session, ROOT, grant.id)
        found = await contract.grant_in_force(session, resource.code, zw.id)
        assert (found.in_force, found.reason) == (False, "revoked")
        assert (await contract.grant_in_force(session, "no-such", zw.id)).reason == "no-resource"
        assert (await contract.grant_in_force(session, resource.code, None)).reason == "no-grant"


class TestFieldGrants:
    def test_the_exchange_declares_its_grants_to_the_registry(self):
        declared = [d for d in MODULE.extends if isinstance(d, registry.FieldGrants)]
        assert [d.granted for d in declared] == [grants.registry_fields_granted]

    async def test_fields_of_live_grants_on_the_registry_asked(self, session):
        persons = await factories.create_resource(session)
        grant = await factories.grant(session, persons, "ZWSJJ", fields=["phone", "name"])
        department_id = grant.consumer_department_id
        granted = await grants.registry_fields_granted(session, department_id, "person")
        assert granted == {"phone", "name"}
        assert await grants.registry_fields_granted(session, department_id, "place") == set()
        await grants.revoke_grant(session, ROOT, grant.id)
        assert await grants.registry_fields_granted(session, department_id, "person") == set()
