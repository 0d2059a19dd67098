"""The sensing engine (物联感知): every sensor of the city reports here through the OGC
SensorThings API v1.1 (HTTP, and MQTT through sensing/mqtt.py). See docs/sensing.md."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Handler, Job, Module, NavItem
from smartcity.sensing import cli as sensing_cli
from smartcity.sensing import contract as sensing_contract
from smartcity.sensing import jobs as sensing_jobs
from smartcity.sensing import pages as sensing_pages
from smartcity.sensing import status as sensing_status
from smartcity.sensing.api import router as extras_router
from smartcity.sensing.mqtt import api as mqtt_hook
from smartcity.sensing.mqtt import bridge as mqtt_bridge
from smartcity.sensing.mqtt import dynsec as mqtt_dynsec
from smartcity.sensing.rules import api as rule_api
from smartcity.sensing.rules import service as rule_service
from smartcity.sensing.service import ACTIONS as EXTRAS_ACTIONS
from smartcity.sensing.sta import api as sta_api
from smartcity.sensing.sta import service as sta_service
from smartcity.sensing.sta.ingest import OBSERVATIONS_CREATED

# Names bound here must not be those of sensing's own modules (service, api, rules, mqtt,
# ...): `from smartcity.sensing import service` would find the binding, not the module.
sta_api.router.include_router(rule_api.router)  # rules and alerts (rules/api.py)
sta_api.router.include_router(extras_router)  # beyond the standard (api.py)
sta_api.router.include_router(mqtt_hook.router)  # clustered brokers ask who may do what

MODULE = Module(
    name="sensing",
    router=sta_api.router,
    actions=dict(sta_service.ACTIONS)
    | rule_service.ACTIONS
    | EXTRAS_ACTIONS
    | sensing_status.ACTIONS,
    # The staff pages (pages.py): devices, datastreams, dead letters, rules and alerts.
    pages=sensing_pages.router,
    nav=[NavItem("/sensing", N_("Sensing"), frozenset({"staff", "supervisor", "admin"}))],
    jobs=[
        Job("sensing.observation_partitions", 6 * 3600, sensing_jobs.ensure_partitions),
        Job("sensing.rules.silence", 60, rule_service.check_silence),
        Job("sensing.retention", 24 * 3600, sensing_jobs.retention_job),
        Job("sensing.mqtt.key_expiry", mqtt_dynsec.EXPIRY_EVERY, mqtt_dynsec.expire_keys),
    ],
    cli=sensing_cli.cli,
    handlers=[
        # New Observations come in events of up to 500 (one per ingestion call and chunk):
        # one handler transaction per chunk, not per Observation. New consumer names, since
        # the consumer is the idempotency key (and the durable's name on NATS).
        Handler(
            "sensing.rules.observations", OBSERVATIONS_CREATED, rule_service.on_observations_created
        ),
        Handler("sensing.mqtt.observations", OBSERVATIONS_CREATED, mqtt_bridge.handle_observations),
        # Per-entity events: Observations only in an outbox written before batching.
        Handler("sensing.rules", "sensing.entity.created", rule_service.on_observation_created),
        # The MQTT bridge (A.7, A.8): publishes to subscribers; a no-op without a broker.
        Handler("sensing.mqtt.created", "sensing.entity.created", mqtt_bridge.handle_event),
        Handler("sensing.mqtt.updated", "sensing.entity.updated", mqtt_bridge.handle_event),
        # Mosquitto's dynamic security follows accounts, keys and Things (a no-op unless
        # SMARTCITY_MQTT_DYNSEC); after commit, so a rolled-back change syncs nothing.
        *(
            Handler(f"sensing.dynsec.{topic}", topic, mqtt_dynsec.on_key_or_account)
            for topic in mqtt_dynsec.KEY_TOPICS
        ),
        Handler("sensing.dynsec.owner", mqtt_dynsec.OWNER_TOPIC, mqtt_dynsec.on_owner_assigned),
        Handler(
            "sensing.dynsec.visibility",
            mqtt_dynsec.VISIBILITY_TOPIC,
            mqtt_dynsec.on_visibility_changed,
        ),
        *(
            Handler(f"sensing.dynsec.{topic}", topic, mqtt_dynsec.on_stream_changed)
            for topic in mqtt_dynsec.STREAM_TOPICS
        ),
    ],
    # The MQTT bridge (the demo's simulated feed is the demo module's task).
    tasks=[mqtt_bridge.run_bridge],
    # Rules other modules declare (contract.DeclaredRule), made by ensure_declared_rules.
    extension_points=(sensing_contract.DECLARED_RULES,),
    reference_data=(sensing_contract.DECLARED_RULES_SEEDER,),
)
