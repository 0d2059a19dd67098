"""The OGC SensorThings API v1.1 as the standard defines it (SensorThings 标准接口): the HTTP
routes at /sta/v1.1 (api.py) and the dispatcher they and $batch share (dispatch.py), the
entity model (entities.py), resource paths, the OData query options and their compilation to
SQL and Python, serialization, creation (service.py), updates and deletes, batch requests,
and ingestion of Observations (ingest.py). See docs/sensing.md."""
