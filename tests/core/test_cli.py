"""The smartcity command against a real SQLite file: demo seeding, users, keys, audit verify
catching an edited and a deleted entry, sign and verify."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartcity.cli import app


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def smartcity(*args: str, stdin: str | None = None, lang: str = "en_US.UTF-8"):
    # In a worker thread: the commands run their own event loop.
    # Cheap argon2, as in the rest of the suite: the demo creates some forty accounts.
    cheap_hashes = {"SMARTCITY_ARGON2_TIME_COST": "1", "SMARTCITY_ARGON2_MEMORY_KIB": "1024"}
    runner = CliRunner(env={"LANG": lang, "SMARTCITY_LOCALE": "", **cheap_hashes})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args), input=stdin).result()


def test_demo_seeds_once(db_url: str) -> None:
    first = smartcity("demo", "--no-serve", "--database-url", db_url)
    assert first.exit_code == 0, first.output
    assert "citizen" in first.output and "sck_" in first.output
    second = smartcity("demo", "--no-serve", "--database-url", db_url)
    assert second.exit_code == 0 and "already seeded" in second.output
    path = db_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        names = dict(conn.execute("SELECT code, name FROM division"))
        accounts = conn.execute("SELECT count(*) FROM account").fetchone()[0]
        # 免提交 in the demo: the citizen and the enterprise are registry records.
        linked = conn.execute(
            "SELECT a.username FROM account a JOIN organization o ON o.account_id = a.id "
            "UNION ALL SELECT a.username FROM account a JOIN person p ON p.account_id = a.id"
        ).fetchall()
    assert names["440300"] == "深圳市" and names["440311"] == "光明区"
    assert names["4403DP"] == "大鹏新区"
    # the ten demo accounts, services.demo's 10 applicants and 7 officers (staff.sthjj is
    # 生态环境局's), the sensing demo's ten district gateways (区级物联网关) and the traffic
    # detectors' device account (traffic.detectors)
    assert accounts == 10 + 17 + 10 + 1
    assert sorted(u for (u,) in linked) == ["citizen", "enterprise"]


def test_users_departments_and_keys(db_url: str) -> None:
    assert smartcity("db", "upgrade", "--database-url", db_url).exit_code == 0
    r = smartcity(
        "users",
        "create",
        "li.jg",
        "--kind",
        "staff",
        "--name",
        "李建国",
        "--department",
        "GAJ",
        "--database-url",
        db_url,
    )
    assert r.exit_code == 0 and "Initial password" in r.output
    r = smartcity(
        "users", "create", "bad.staff", "--kind", "staff", "--name", "x", "--database-url", db_url
    )
    assert r.exit_code == 1 and "department" in r.output
    r = smartcity(
        "users", "create", "Bad Name", "--kind", "citizen", "--name", "x", "--database-url", db_url
    )
    assert r.exit_code == 2
    r = smartcity(
        "users",
        "create",
        "zhang.san",
        "--kind",
        "citizen",
        "--name",
        "张三",
        "--password-stdin",
        "--database-url",
        db_url,
        stdin="weak\n",
    )
    assert r.exit_code == 1
    assert (
        smartcity(
            "users", "set-roles", "li.jg", "--role", "auditor", "--database-url", db_url
        ).exit_code
        == 0
    )
    r = smartcity("users", "set-roles", "li.jg", "--role", "emperor", "--database-url", db_url)
    assert r.exit_code == 1 and "emperor" in r.output
    r = smartcity("users", "set-roles", "nobody", "--database-url", db_url, lang="zh_CN.UTF-8")
    assert r.exit_code == 1 and "没有账户 nobody" in r.output
    r = smartcity("departments", "create", "QXJ", "气象局", "--database-url", db_url)
    assert r.exit_code == 0
    r = smartcity("departments", "list", "--database-url", db_url)
    assert "气象局" in r.output and "公安局" in r.output
    assert (
        smartcity(
            "users",
            "create",
            "sys.qx",
            "--kind",
            "system",
            "--name",
            "气象接口",
            "--department",
            "QXJ",
            "--database-url",
            db_url,
        ).exit_code
        == 0
    )
    r = smartcity("keys", "issue", "sys.qx", "--name", "feed", "--database-url", db_url)
    assert r.exit_code == 0 and "sck_" in r.output
    prefix = next(w for w in r.output.split() if w.startswith("sck_")).split("_")[1]
    assert smartcity("keys", "revoke", prefix, "--database-url", db_url).exit_code == 0
    r = smartcity("keys", "revoke", "nosuchkey", "--database-url", db_url)
    assert r.exit_code == 1
    r = smartcity("users", "list", "--database-url", db_url)
    assert "li.jg" in r.output and "auditor" in r.output


def test_audit_verify_catches_edit_and_delete(db_url: str) -> None:
    assert smartcity("db", "upgrade", "--database-url", db_url).exit_code == 0
    for n in range(6):  # each creation is an audited action: a trail of six entries or more
        r = smartcity(
            "users",
            "create",
            f"resident.{n}",
            "--kind",
            "citizen",
            "--name",
            "居民",
            "--database-url",
            db_url,
        )
        assert r.exit_code == 0, r.output
    r = smartcity("audit", "verify", "--database-url", db_url)
    assert r.exit_code == 0 and "intact" in r.output
    path = db_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 5")
    r = smartcity("audit", "verify", "--database-url", db_url)
    assert r.exit_code == 1 and "entry 5" in r.output and "changed" in r.output
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM audit_entry WHERE seq = 3")
    r = smartcity("audit", "verify", "--database-url", db_url)
    assert r.exit_code == 1 and "BROKEN at entry 3" in r.output


def test_sign_and_verify_files(db_url: str, tmp_path: Path) -> None:
    assert smartcity("db", "upgrade", "--database-url", db_url).exit_code == 0
    document = tmp_path / "licence.txt"
    document.write_text("建设工程规划许可证 第0001号", encoding="utf-8")
    for algorithm in ("SM2", "P-256"):
        r = smartcity("sign", str(document), "--algorithm", algorithm, "--database-url", db_url)
        assert r.exit_code == 0, r.output
        r = smartcity("verify", str(document), str(document) + ".sig", "--database-url", db_url)
        assert r.exit_code == 0 and "valid" in r.output
    document.write_text("建设工程规划许可证 第0002号", encoding="utf-8")
    r = smartcity("verify", str(document), str(document) + ".sig", "--database-url", db_url)
    assert r.exit_code == 1 and "changed after signing" in r.output
    garbage = tmp_path / "garbage.sig"
    garbage.write_text("{}")
    r = smartcity("verify", str(document), str(garbage), "--database-url", db_url)
    assert r.exit_code == 1 and "not valid" in r.output
    r = smartcity("sign", str(document), "--algorithm", "RSA", "--database-url", db_url)
    assert r.exit_code == 1
    r = smartcity("signing-keys", "list", "--database-url", db_url)
    assert "SM2" in r.output and "P-256" in r.output


def test_demo_feed_posts_stay_out_of_the_access_log() -> None:
    """Only the feed's accepted batches are dropped; its refusals and everything else stay."""
    import logging

    from smartcity.cli import _quiet_feed

    def line(path: str, status: int) -> logging.LogRecord:
        args = ("127.0.0.1:5000", "POST", path, "1.1", status)
        return logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "%s", args, None)

    assert not _quiet_feed(line("/sta/v1.1/CreateObservations", 201))
    assert _quiet_feed(line("/sta/v1.1/CreateObservations", 400))
    assert _quiet_feed(line("/sta/v1.1/CreateObservations", 503))
    assert _quiet_feed(line("/sta/v1.1/Observations", 201))
    assert _quiet_feed(line("/air", 200))
