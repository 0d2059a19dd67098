"""The sensing engine (物联感知): every sensor of the city reports here through the OGC
SensorThings API v1.1 (HTTP, sensing/sta/; and MQTT, sensing/mqtt/), and rules on the data
raise alerts (sensing/rules/). See docs/sensing.md.

Everything sensing adds to the platform is declared in MODULE below; importing any of its
files registers nothing."""

from __future__ import annotations

from smartcity.core.accounts import ACCOUNT_ACTIVE_CHANGED, API_KEY_ISSUED, API_KEY_REVOKED
from smartcity.core.i18n import N_
from smartcity.core.module import Handler, Job, Module, NavItem
from smartcity.sensing import api as sensing_api
from smartcity.sensing import cli as sensing_cli
from smartcity.sensing import contract as sensing_contract
from smartcity.sensing import jobs as sensing_jobs
from smartcity.sensing import pages as sensing_pages
from smartcity.sensing import service as sensing_service
from smartcity.sensing import status as sensing_status
from smartcity.sensing.events import (
    ENTITY_CREATED,
    ENTITY_DELETED,
    ENTITY_UPDATED,
    OBSERVATIONS_CREATED,
    OWNER_ASSIGNED,
    VISIBILITY_CHANGED,
)
from smartcity.sensing.mqtt import api as mqtt_api
from smartcity.sensing.mqtt import bridge as mqtt_bridge
from smartcity.sensing.mqtt import handlers as mqtt_handlers
from smartcity.sensing.mqtt import jobs as mqtt_jobs
from smartcity.sensing.rules import api as rules_api
from smartcity.sensing.rules import handlers as rules_handlers
from smartcity.sensing.rules import jobs as rules_jobs
from smartcity.sensing.rules import service as rules_service
from smartcity.sensing.sta import api as sta_api
from smartcity.sensing.sta import service as sta_service

# Names bound here must not be those of sensing's own modules (service, api, rules, mqtt,
# ...): `from smartcity.sensing import service` would find the binding, not the module.

# The SensorThings API's router (/sta/v1.1) carries sensing's other routers too: rules and
# alerts, the extensions beyond the standard and the hook of clustered MQTT brokers (all under
# /api/v1/sensing); included here, the one place that assembles the module.
router = sta_api.router
router.include_router(rules_api.router)
router.include_router(sensing_api.router)
router.include_router(mqtt_api.router)

MODULE = Module(
    name="sensing",
    router=router,
    actions=(
        dict(sta_service.ACTIONS)
        | rules_service.ACTIONS
        | sensing_service.ACTIONS
        | sensing_status.ACTIONS
    ),
    rules=dict(rules_service.RULES),
    # The staff pages (pages.py): devices, datastreams, dead letters, rules and alerts.
    pages=sensing_pages.router,
    nav=[NavItem("/sensing", N_("Sensing"), frozenset({"staff", "supervisor", "admin"}))],
    jobs=[
        Job("sensing.observation_partitions", 6 * 3600, sensing_jobs.ensure_partitions),
        Job("sensing.rules.silence", 60, rules_jobs.check_silence),
        Job("sensing.retention", 24 * 3600, sensing_jobs.retention_job),
        Job("sensing.mqtt.key_expiry", mqtt_jobs.EXPIRY_EVERY, mqtt_jobs.expire_keys),
    ],
    cli=sensing_cli.cli,
    handlers=[
        # New Observations come in events of up to 500 (one per ingestion call and chunk):
        # one handler transaction per chunk, not per Observation. New consumer names, since
        # the consumer is the idempotency key (and the durable's name on NATS).
        Handler(
            "sensing.rules.observations",
            OBSERVATIONS_CREATED.name,
            rules_handlers.on_observations_created,
        ),
        Handler(
            "sensing.mqtt.observations",
            OBSERVATIONS_CREATED.name,
            mqtt_handlers.handle_observations,
        ),
        # Per-entity events: Observations only in an outbox written before batching.
        Handler("sensing.rules", ENTITY_CREATED.name, rules_handlers.on_observation_created),
        # The MQTT bridge (A.7, A.8): publishes to subscribers; a no-op without a broker.
        Handler("sensing.mqtt.created", ENTITY_CREATED.name, mqtt_handlers.handle_event),
        Handler("sensing.mqtt.updated", ENTITY_UPDATED.name, mqtt_handlers.handle_event),
        # Mosquitto's dynamic security follows accounts, keys and Things (a no-op unless
        # SMARTCITY_MQTT_DYNSEC); after commit, so a rolled-back change syncs nothing.
        *(
            Handler(f"sensing.dynsec.{topic}", topic, mqtt_handlers.on_key_or_account)
            for topic in (API_KEY_ISSUED, API_KEY_REVOKED, ACCOUNT_ACTIVE_CHANGED)
        ),
        Handler("sensing.dynsec.owner", OWNER_ASSIGNED.name, mqtt_handlers.on_owner_assigned),
        Handler(
            "sensing.dynsec.visibility",
            VISIBILITY_CHANGED.name,
            mqtt_handlers.on_visibility_changed,
        ),
        *(
            Handler(f"sensing.dynsec.{topic.name}", topic.name, mqtt_handlers.on_stream_changed)
            for topic in (ENTITY_CREATED, ENTITY_UPDATED, ENTITY_DELETED)
        ),
    ],
    # The MQTT bridge (the demo's simulated feed is the demo module's task).
    tasks=[mqtt_bridge.run_bridge],
    # Rules other modules declare (contract.DeclaredRule), made by ensure_declared_rules.
    extension_points=(sensing_contract.DECLARED_RULES,),
    reference_data=(sensing_contract.DECLARED_RULES_SEEDER,),
)
