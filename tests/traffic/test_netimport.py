"""The SUMO .net.xml and GeoJSON importers: a tiny hand-written net, projections, and bad
files refused with clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smartcity.traffic.netimport import (
    MAX_DEPTH,
    NetworkError,
    parse_geojson,
    parse_sumo_net,
    polyline_length_m,
)

TINY_NET = (Path(__file__).parent / "tiny.net.xml").read_bytes()


def test_tiny_net_segments_and_signals() -> None:
    net = parse_sumo_net(TINY_NET, prefix="sz-")
    assert net.projected
    by_code = {s.code: s for s in net.segments}
    assert set(by_code) == {"sz-E0", "sz-E1"}  # the internal edge is SUMO's own
    e0 = by_code["sz-E0"]
    assert e0.lanes == 3 and e0.length_m == 500.0 and e0.name == "Shennan Ave"
    assert e0.free_flow_kmh == pytest.approx(60.0, abs=0.1)
    assert e0.road_class == "arterial"
    assert by_code["sz-E1"].road_class == "expressway"
    assert by_code["sz-E1"].free_flow_kmh == pytest.approx(100.0, abs=0.1)
    lon, lat = e0.coordinates[0]
    # x 0 + 190000 in UTM zone 50 (central meridian 117°E) is about 113.9°E, 22.5°N
    assert 113.8 < lon < 114.0 and 22.4 < lat < 22.6
    assert polyline_length_m(e0.coordinates) == pytest.approx(500.0, rel=0.01)
    assert [(i.code, i.signal_programs) for i in net.intersections] == [("sz-J1", ("0",))]


def test_net_without_projection_keeps_metres() -> None:
    data = TINY_NET.replace(b'projParameter="+proj=utm +zone=50', b'projParameter="!" x="')
    net = parse_sumo_net(data)
    assert not net.projected
    assert net.segments[0].coordinates[0] == (0.0, 4.8)  # the middle lane


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<net><edge id='a'>", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"<html/>", "root element is <html>"),
        (b"<net/>", "no road edges"),
        (b"<net><edge id='a' from='x' to='y'/></net>", "has no <lane>"),
        (
            b"<net><edge id='a'><lane speed='fast' length='10' shape='0,0 1,1'/></edge></net>",
            "is not a number",
        ),
        (
            b"<net><edge id='a'><lane speed='10' length='-5' shape='0,0 1,1'/></edge></net>",
            "not positive",
        ),
        (
            b"<net><edge id='a b'><lane speed='10' length='5' shape='0,0 1,1'/></edge></net>",
            "is not 1-120 letters",
        ),
        (
            b"<net><edge id='a'><lane speed='10' length='5'/></edge></net>",
            "no shape and no junctions",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE net [<!ENTITY x "y">]><net>&x;</net>',
            "DOCTYPE or entities",
        ),
        (b"<net>" + b"<a>" * (MAX_DEPTH + 1) + b"</a>" * (MAX_DEPTH + 1) + b"</net>", "deeper"),
    ],
)
def test_malformed_nets_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        parse_sumo_net(data)


def test_duplicate_edge() -> None:
    edge = b"<edge id='a'><lane speed='10' length='5' shape='0,0 1,1'/></edge>"
    with pytest.raises(NetworkError, match="appears twice"):
        parse_sumo_net(b"<net>" + edge + edge + b"</net>")


def _feature(**props: object) -> dict[str, object]:
    base: dict[str, object] = {
        "code": "SN-1",
        "name": "深南大道",
        "name_en": "Shennan Boulevard",
        "road_class": "arterial",
        "lanes": 4,
        "free_flow_kmh": 60,
    }
    base.update(props)
    return {
        "type": "Feature",
        "properties": {k: v for k, v in base.items() if v is not None},
        "geometry": {"type": "LineString", "coordinates": [[114.0, 22.54], [114.01, 22.54]]},
    }


def _doc(*features: dict[str, object]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_geojson_segments() -> None:
    net = parse_geojson(_doc(_feature(), _feature(code="SN-2", speed_limit_kmh=70)))
    first = net.segments[0]
    assert first.name_en == "Shennan Boulevard" and first.lanes == 4
    assert first.length_m == pytest.approx(1028, abs=5)  # 0.01° of longitude at 22.54°N
    assert first.speed_limit_kmh == 60 and net.segments[1].speed_limit_kmh == 70


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a FeatureCollection"),
        (_doc(), "no features"),
        (_doc(_feature(code=None)), "'code' must be a string"),
        (_doc(_feature(), _feature()), "appears twice"),
        (_doc(_feature(lanes=0)), "'lanes' must be between"),
        (_doc(_feature(lanes=2.5)), "whole number"),
        (_doc(_feature(free_flow_kmh="fast")), "'free_flow_kmh' must be a number"),
        (_doc(_feature(road_class="motorway")), "'road_class' must be one of"),
    ],
)
def test_bad_geojson_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        parse_geojson(data)


def test_geojson_geometry_checks() -> None:
    point = _feature()
    point["geometry"] = {"type": "Point", "coordinates": [114, 22]}
    with pytest.raises(NetworkError, match="must be a LineString"):
        parse_geojson(_doc(point))
    far = _feature()
    far["geometry"] = {"type": "LineString", "coordinates": [[114, 22], [200, 22]]}
    with pytest.raises(NetworkError, match="outside WGS 84"):
        parse_geojson(_doc(far))


def test_sumo_rl_nets_if_installed() -> None:
    sumo_rl = pytest.importorskip("sumo_rl")
    nets = sorted(Path(sumo_rl.__file__).parent.glob("nets/**/*.net.xml"))
    if not nets:
        pytest.skip("sumo-rl ships no nets here")
    for path in nets[:5]:
        net = parse_sumo_net(path.read_bytes())
        assert net.segments
