"""Rules on sensor data and the alerts they raise (监测规则与告警): tables (models.py),
validation, the rule index and evaluation (service.py), alerts (alerts.py), bus handlers
(handlers.py), the silence job (jobs.py), topics (events.py), HTTP (api.py) and the staff
pages (pages.py, alert_pages.py). See docs/sensing.md, "Rules and alerts"."""
