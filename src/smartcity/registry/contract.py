"""What other modules may use of the base registries (城市数字资源中心): plain functions and
frozen data types, no tables. Every other import of ``smartcity.registry`` from outside it is
refused by import-linter (tests/architecture/contracts.py)."""

from __future__ import annotations

# --- what the demo uses ---
# The demo city seeds the registries once (places, persons, organizations, quality issues;
# seed_demo answers how many with a describe()), links its citizen and enterprise accounts
# to records of them, and places its devices inside the districts' boxes.
from smartcity.registry.demo import DISTRICT_BOXES as DISTRICT_BOXES
from smartcity.registry.demo import link_demo_citizen as link_demo_citizen
from smartcity.registry.demo import seed_demo as seed_demo

# --- what the exchange uses ---
# The exchange grants departments fields of the registries: it declares a FieldGrants in its
# MODULE.extends (the registry never queries the exchange's tables), reads records under a
# grant with exchange_read (unmasked, exactly the granted fields; reads of persons land in
# their access log), pages public records for open data with record_batch, describes a
# resource's fields with data_fields, column_type and PERSONAL_FIELDS, and fans changes out
# to its subscriptions from the RECORD_CHANGED topics.
from smartcity.registry.events import RECORD_CHANGED as RECORD_CHANGED
from smartcity.registry.events import RECORD_CHANGED_PATTERN as RECORD_CHANGED_PATTERN
from smartcity.registry.events import RecordChanged as RecordChanged
from smartcity.registry.records import PERSONAL_FIELDS as PERSONAL_FIELDS
from smartcity.registry.records import column_type as column_type
from smartcity.registry.records import data_fields as data_fields
from smartcity.registry.service import FieldGrants as FieldGrants
from smartcity.registry.service import exchange_read as exchange_read
from smartcity.registry.service import record_batch as record_batch
