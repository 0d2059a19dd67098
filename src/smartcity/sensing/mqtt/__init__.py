"""MQTT for SensorThings (MQTT 接入): the bridge to the broker (bridge.py), the standard's
topics (topics.py), who may do what on the broker (acl.py), Mosquitto's dynamic security kept
in step (dynsec.py), the HTTP hook of clustered brokers (api.py) and the bus handlers that
publish and sync (handlers.py). See docs/sensing.md, "MQTT"."""
