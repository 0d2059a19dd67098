"""`smartcity traffic import-net|import-geojson|state|index|forecast-eval` against a real
SQLite file, with bad files as clear errors (exit 2)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smartcity.cli import app
from tests.traffic.road import network_doc

TINY = Path(__file__).parent / "tiny.net.xml"


def smartcity(*args: str) -> Any:
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


def test_imports_state_and_index(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'traffic.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    net = smartcity("traffic", "import-net", str(TINY), "--prefix", "t-", "--database-url", url)
    assert net.exit_code == 0, net.output
    assert "2 segments (0 replaced) and 1 signalised intersections imported" in net.output
    again = smartcity("traffic", "import-net", str(TINY), "--prefix", "t-", "--database-url", url)
    assert "(2 replaced)" in again.output
    geo = tmp_path / "roads.geojson"
    geo.write_bytes(network_doc())
    imported = smartcity("traffic", "import-geojson", str(geo), "--database-url", url)
    assert imported.exit_code == 0 and "3 segments" in imported.output
    state = smartcity("traffic", "state", "--database-url", url)
    assert state.exit_code == 0 and "No road state yet." in state.output
    computed = smartcity("traffic", "state", "--compute", "--database-url", url)
    assert computed.exit_code == 0 and "Road state at" in computed.output
    assert "无数据" in computed.output  # no detectors: every segment has no data
    index = smartcity("traffic", "index", "--database-url", url)
    assert index.exit_code == 0


def test_bad_files_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net.xml"
    bad.write_bytes(b"<net><edge id='a'>")
    result = smartcity("traffic", "import-net", str(bad))
    assert result.exit_code == 2 and "not well-formed XML" in result.output
    missing = smartcity("traffic", "import-geojson", str(tmp_path / "none.geojson"))
    assert missing.exit_code == 2 and "cannot read" in missing.output
    wrong = tmp_path / "wrong.geojson"
    wrong.write_text('{"type": "Feature"}')
    result = smartcity("traffic", "import-geojson", str(wrong))
    assert result.exit_code == 2 and "not a FeatureCollection" in result.output


def test_forecast_eval() -> None:
    result = smartcity("traffic", "forecast-eval", "--segments", "4", "--days", "14")
    assert result.exit_code == 0, result.output
    assert "historical_average" in result.output and "last_value" in result.output
    assert "served: " in result.output
    short = smartcity("traffic", "forecast-eval", "--days", "10", "--test-days", "5")
    assert short.exit_code == 2 and "at least 7 training days" in short.output
