"""The sensing engine (物联感知): every sensor of the city reports here through the OGC
SensorThings API v1.1 (HTTP, and MQTT through sensing/mqtt.py). See docs/sensing.md."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Handler, Job, Module, NavItem
from smartcity.sensing import (
    api,
    dynsec,
    mqtt,
    mqtt_hook,
    pages,
    partitions,
    rule_api,
    rules,
    service,
    status,
)
from smartcity.sensing import cli as sensing_cli
from smartcity.sensing.extras import ACTIONS as EXTRAS_ACTIONS
from smartcity.sensing.extras_api import router as extras_router
from smartcity.sensing.ingest import OBSERVATIONS_CREATED
from smartcity.sensing.retention import retention_job
from smartcity.sensing.simulate import run_demo_feed

api.router.include_router(rule_api.router)  # rules and alerts (rule_api.py)
api.router.include_router(extras_router)  # beyond the standard (extras_api.py)
api.router.include_router(mqtt_hook.router)  # clustered brokers ask who may do what

MODULE = Module(
    name="sensing",
    router=api.router,
    actions=dict(service.ACTIONS) | rules.ACTIONS | EXTRAS_ACTIONS | status.ACTIONS,
    # The staff pages (pages.py): devices, datastreams, dead letters, rules and alerts.
    pages=pages.router,
    nav=[NavItem("/sensing", N_("Sensing"), frozenset({"staff", "supervisor", "admin"}))],
    jobs=[
        Job("sensing.observation_partitions", 6 * 3600, partitions.ensure_partitions),
        Job("sensing.rules.silence", 60, rules.check_silence),
        Job("sensing.retention", 24 * 3600, retention_job),
        Job("sensing.mqtt.key_expiry", dynsec.EXPIRY_EVERY, dynsec.expire_keys),
    ],
    cli=sensing_cli.cli,
    handlers=[
        # New Observations come in events of up to 500 (one per ingestion call and chunk):
        # one handler transaction per chunk, not per Observation. New consumer names, since
        # the consumer is the idempotency key (and the durable's name on NATS).
        Handler("sensing.rules.observations", OBSERVATIONS_CREATED, rules.on_observations_created),
        Handler("sensing.mqtt.observations", OBSERVATIONS_CREATED, mqtt.handle_observations),
        # Per-entity events: Observations only in an outbox written before batching.
        Handler("sensing.rules", "sensing.entity.created", rules.on_observation_created),
        # The MQTT bridge (A.7, A.8): publishes to subscribers; a no-op without a broker.
        Handler("sensing.mqtt.created", "sensing.entity.created", mqtt.handle_event),
        Handler("sensing.mqtt.updated", "sensing.entity.updated", mqtt.handle_event),
        # Mosquitto's dynamic security follows accounts, keys and Things (a no-op unless
        # SMARTCITY_MQTT_DYNSEC); after commit, so a rolled-back change syncs nothing.
        *(
            Handler(f"sensing.dynsec.{topic}", topic, dynsec.on_key_or_account)
            for topic in dynsec.KEY_TOPICS
        ),
        Handler("sensing.dynsec.owner", dynsec.OWNER_TOPIC, dynsec.on_owner_assigned),
        Handler("sensing.dynsec.visibility", dynsec.VISIBILITY_TOPIC, dynsec.on_visibility_changed),
        *(
            Handler(f"sensing.dynsec.{topic}", topic, dynsec.on_stream_changed)
            for topic in dynsec.STREAM_TOPICS
        ),
    ],
    # The MQTT bridge; the simulated city feed (only with SMARTCITY_SIMULATE_FEED, as the demo).
    tasks=[mqtt.run_bridge, run_demo_feed],
)
