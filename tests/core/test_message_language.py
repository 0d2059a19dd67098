"""Messages read in the reader's language: a Text is kept as msgid + values and written out
when read; a message stored only as written keeps its text."""

from __future__ import annotations

import uuid
from datetime import date

from smartcity.core import notifications
from smartcity.core.models import Notification
from smartcity.core.notifications import Name, Term, Text
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from smartcity.web.render import message_text
from tests.core import factories
from tests.core.test_pages import HTML, sign_in

ACCEPTED = "Your application (case %(number)s) has been accepted; it will be settled by %(due)s."


class TestTexts:
    async def test_stored_in_chinese_read_in_either_language(self, session):
        account = await factories.create_account(session)
        note = await notifications.notify(
            session,
            account.id,
            topic="services.application.accept",
            title=Text("Application accepted: %(title)s", {"title": "居住证办理（张伟）"}),
            body=Text(ACCEPTED, {"number": "SQ-1", "due": date(2026, 12, 17)}),
        )
        assert note is not None
        # The stored text (and what the channels got) is the city's language.
        assert note.title == "申请已受理：居住证办理（张伟）"
        assert note.body == "您的申请（办件编号 SQ-1）已受理，承诺于2026年12月17日前办结。"
        assert notifications.message_part(note, "body", "en") == (
            "Your application (case SQ-1) has been accepted; it will be settled by 17 Dec 2026."
        )
        assert notifications.message_part(note, "body", "zh_CN") == note.body

    async def test_terms_and_names_follow_the_reader(self, session):
        account = await factories.create_account(session)
        note = await notifications.notify(
            session,
            account.id,
            topic="t",
            title=Text(
                "Service withdrawn: %(item)s", {"item": Name("居住证办理", "Residence permit")}
            ),
            body=Text(
                "Your case %(number)s: %(step)s done.", {"number": "SQ-2", "step": Term("Accept")}
            ),
        )
        assert note is not None
        assert (
            notifications.message_part(note, "title", "en") == "Service withdrawn: Residence permit"
        )
        assert notifications.message_part(note, "title", "zh_CN") == "事项已停止办理：居住证办理"
        assert notifications.message_part(note, "body", "en") == "Your case SQ-2: Accept done."
        assert notifications.message_part(note, "body", "zh_CN") == "您的办件 SQ-2 已办理“受理”。"

    def test_a_message_stored_as_written_keeps_its_text(self):
        old = Notification(id=uuid.uuid4(), title="申请已提交", body="您的申请已提交。", texts=None)
        assert notifications.message_part(old, "title", "en") == "申请已提交"

    def test_pages_mark_chinese_values_and_escape(self):
        from smartcity.core import i18n

        note = Notification(
            id=uuid.uuid4(),
            title="x",
            body="y",
            texts={
                "title": Text("Application accepted: %(title)s", {"title": "<b>张伟</b>"}).stored()
            },
        )
        token = i18n.current_locale.set("en")
        try:
            html = str(message_text(note, "title"))
        finally:
            i18n.current_locale.reset(token)
        assert html == (
            'Application accepted: <span lang="zh-CN" class="zh-name" title="No English name yet">'
            "&lt;b&gt;张伟&lt;/b&gt;</span>"
        )


class TestReading:
    async def test_inbox_page_and_api_in_english(self, client, session):
        account = await factories.create_account(session)
        await notifications.notify(
            session,
            account.id,
            topic="t",
            title=Text("Application accepted: %(title)s", {"title": "SQ-3"}),
            body=Text(ACCEPTED, {"number": "SQ-3", "due": date(2026, 12, 17)}),
        )
        await sign_in(client, account.username)
        page = await client.get("/messages", headers={**HTML, "accept-language": "en"})
        assert "settled by 17 Dec 2026" in page.text
        page = await client.get("/messages", headers=HTML)
        assert "承诺于2026年12月17日前办结" in page.text
        token = issue_access_token(get_settings(), account, amr=["pwd"])
        r = await client.get(
            "/api/v1/messages",
            headers={"Authorization": f"Bearer {token}", "accept-language": "en"},
        )
        assert r.status_code == 200
        assert r.json()["items"][0]["title"] == "Application accepted: SQ-3"
