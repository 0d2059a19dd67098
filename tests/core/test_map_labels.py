"""District names on the tile-less maps (web/maps.py) are moved off the dots, so both the
names and the dots stay readable."""

from __future__ import annotations

from smartcity.web.maps import Marker, box_overlap, label_box, place_labels


def covered(text: str, x: float, y: float, markers: list[Marker]) -> float:
    box = label_box(text, x, y, 13)
    return sum(box_overlap(box, (m.x - m.r, m.y - m.r, m.x + m.r, m.y + m.r)) for m in markers)


def test_a_free_label_stays_where_it_is() -> None:
    assert place_labels([("南山区", 100, 100)], [Marker(300, 300, 14)], 600, 400) == [(100, 100)]


def test_a_label_under_a_dot_moves_to_the_nearest_free_place() -> None:
    dot = Marker(100, 96, 15.5)
    assert covered("光明区", 100, 100, [dot]) > 0
    [(x, y)] = place_labels([("光明区", 100, 100)], [dot], 600, 400)
    assert covered("光明区", x, y, [dot]) == 0
    assert abs(x - 100) + abs(y - 100) <= 60  # still next to its district


def test_labels_do_not_cover_each_other_or_leave_the_map() -> None:
    dots = [Marker(50, 20, 14), Marker(80, 20, 14)]
    spots = place_labels([("罗湖区", 60, 20), ("福田区", 60, 20)], dots, 200, 120)
    boxes = [label_box(t, x, y, 13) for t, (x, y) in zip(("罗湖区", "福田区"), spots, strict=True)]
    assert box_overlap(boxes[0], boxes[1]) == 0
    for left, top, right, bottom in boxes:
        assert left >= 0 and top >= 0 and right <= 200 and bottom <= 120


def test_with_no_free_place_the_least_covered_wins() -> None:
    # Dots everywhere: the label cannot be free, but it still gets a place on the map.
    dots = [Marker(x, y, 9) for x in range(0, 201, 15) for y in range(0, 101, 15)]
    [(x, y)] = place_labels([("大鹏新区", 100, 50)], dots, 200, 100)
    assert 0 <= x <= 200 and 0 <= y <= 100
    assert covered("大鹏新区", x, y, dots) <= covered("大鹏新区", 100, 50, dots)
