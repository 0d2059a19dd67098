"""Insight for the city from the 12345 orders (热点分析与考核): hot spots by district and
street, by category and over time; the rising topics of the week's order texts; the KPIs
(办结率, 按时办结率, 满意率, 回退率, 重办率, handling time) per department and street.

- `service`: the grouped queries (SQLite and PostgreSQL) and the topic detection.
- `schemas`: the API's answers.
- `api`: /api/v1/hotline/insight/{hotspots,topics,kpis}.
- `pages`: /hotline/insight (map, series, topics), /hotline/insight/kpis (+ CSV).
- `board`: the hotline's panel on the supervision board (a ``BoardPanel``).

Definitions: docs/hotline.md, "Insight"."""
