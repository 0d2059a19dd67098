"""Words for the service hall's known vocabularies in both languages: the life events (人生
事件) that group the service items. The events are stored in Chinese as the catalogue has
them; one not known here is shown as data (marked Chinese on an English page), never
guessed."""

from __future__ import annotations

from markupsafe import Markup

from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.web.render import data_name

# The life events of the city's catalogue (as 广东政务服务网 groups its matters).
LIFE_EVENTS = {
    "住房": N_("Housing"),
    "就业": N_("Employment"),
    "生育": N_("Having a child"),
    "婚姻": N_("Marriage"),
    "开办企业": N_("Starting a business"),
}


def life_event_name(event: str) -> str | Markup:
    """A life event in the page's language: the English label where the event is known,
    else the stored words marked as Chinese data."""
    label = LIFE_EVENTS.get(event)
    return data_name(event, _(label) if label else None)
