"""Tests for 公民身份号码, 统一社会信用代码 and 行政区划代码 handling in smartcity.core.ids."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from smartcity.core import clock
from smartcity.core.ids import (
    DIVISIONS,
    SHENZHEN_CITY,
    SHENZHEN_DISTRICTS,
    USCC_AUTHORITIES,
    USCC_ENTITY_TYPES,
    InvalidIdentifier,
    district_of,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    make_uscc,
    mask_resident_id,
    organization_code_check_char,
    parse_division_code,
    parse_resident_id,
    parse_uscc,
    resident_id_check_char,
    resolves_to_gb,
    uscc_check_char,
)

# Fixed, so no test depends on the wall clock.
TODAY = date(2025, 1, 1)
# No example database: keeps runs reproducible and the checkout free of .hypothesis/.
FAST = settings(max_examples=200, deadline=None, database=None)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# (code, first birth year stdnum accepts it for) for codes valid up to TODAY.
DIVISION_POOL = [
    *((d.code, d.established) for d in SHENZHEN_DISTRICTS if d.gb_code is not None),
    ("440300", 1900),  # the city code itself has no start year in GB/T 2260 history
    ("110105", 1900),  # 北京市朝阳区
    ("310115", 1993),  # 上海市浦东新区
]


@st.composite
def resident_id_parts(draw: st.DrawFn) -> tuple[str, date, int]:
    code, since = draw(st.sampled_from(DIVISION_POOL))
    birth = draw(st.dates(date(max(since, 1900), 1, 1), TODAY))
    return code, birth, draw(st.integers(0, 999))


@st.composite
def uscc_parts(draw: st.DrawFn) -> tuple[str, str, str, str]:
    authority = draw(st.sampled_from(sorted(USCC_AUTHORITIES)))
    entity_type = draw(st.sampled_from(sorted(USCC_ENTITY_TYPES[authority])))
    division = draw(st.sampled_from([*(code for code, _ in DIVISION_POOL), "100000"]))
    body = draw(st.text(st.sampled_from(USCC_ALPHABET), min_size=8, max_size=8))
    return authority, entity_type, division, body


def replacement_for(original: str) -> st.SearchStrategy[str]:
    # A case change is not a change: both parsers upper-case their input on purpose.
    return st.one_of(
        st.characters(min_codepoint=32, max_codepoint=126),
        st.sampled_from("０１９Ｘ\u3000"),
    ).filter(lambda c: c.upper() != original.upper())


def stdnum_ric_valid(number: str) -> bool:
    # stdnum 2.x raises KeyError instead of returning False for an unknown county code
    # under a known province (e.g. 440399...).
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def with_check(body: str) -> str:
    return body + resident_id_check_char(body)


def error_of(value: str, *, today: date = TODAY) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id(value, today=today)
    return caught.value


def error_of_default(value: str) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_resident_id(value)
    return caught.value


def uscc_error_of(value: str) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_uscc(value)
    return caught.value


# 公民身份号码 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "division", "birth", "sex", "sequence"),
    [
        ("44030419900307123X", "440304", date(1990, 3, 7), "male", 123),  # 福田
        ("440305200112310027", "440305", date(2001, 12, 31), "female", 2),  # 南山
        ("440310201703150016", "440310", date(2017, 3, 15), "male", 1),  # 坪山, born 2017
        ("11010519491231002X", "110105", date(1949, 12, 31), "female", 2),  # GB 11643 annex
    ],
)
def test_known_resident_ids_parse(
    number: str, division: str, birth: date, sex: str, sequence: int
) -> None:
    parsed = parse_resident_id(number, today=TODAY)
    assert (parsed.number, parsed.division_code, parsed.birth_date) == (number, division, birth)
    assert (parsed.sex, parsed.sequence) == (sex, sequence)
    assert is_valid_resident_id(number, today=TODAY)
    assert ric.is_valid(number)


def test_resident_id_normalises_lowercase_x_and_spaces() -> None:
    parsed = parse_resident_id(" 440304 19900307 123x\u3000", today=TODAY)
    assert parsed.number == "44030419900307123X"


def test_resident_id_repr_does_not_leak_the_number() -> None:
    parsed = parse_resident_id("44030419900307123X", today=TODAY)
    assert "44030419900307123X" not in repr(parsed)
    assert "4403**********123X" in repr(parsed)


def test_default_today_comes_from_the_platform_clock() -> None:
    number = make_resident_id("440304", date(2030, 6, 1), 1)
    with clock.frozen(datetime(2030, 5, 31, 12, tzinfo=UTC)):
        assert error_of_default(number).code == "birth_date"
    # 2030-05-31T16:00Z is already 1 June in Shenzhen (UTC+8).
    with clock.frozen(datetime(2030, 5, 31, 16, tzinfo=UTC)):
        assert parse_resident_id(number).birth_date == date(2030, 6, 1)


@pytest.mark.parametrize(
    "value", ["", "4403041990030712", "44030419900307123", "44030419900307123X0"]
)
def test_resident_id_wrong_length(value: str) -> None:
    error = error_of(value)
    assert error.code == "length"
    assert "18 characters" in str(error)
    assert not is_valid_resident_id(value, today=TODAY)


@pytest.mark.parametrize(
    "value", ["4403041990A307123X", "44030419900307123Y", "X4030419900307123X"]
)
def test_resident_id_letters_in_body(value: str) -> None:
    error = error_of(value)
    assert error.code == "format"
    assert "position" in str(error)


def test_resident_id_bad_check_digit_names_expected_char() -> None:
    error = error_of("440304199003071235")
    assert error.code == "checksum"
    assert "expected X, got 5" in str(error)


def test_resident_id_feb_30() -> None:
    error = error_of(with_check("44030419900230123"))
    assert error.code == "birth_date"
    assert "1990-02-30" in str(error)


def test_resident_id_birth_date_in_future() -> None:
    number = make_resident_id("440304", date(2025, 1, 2), 123)
    error = error_of(number, today=date(2025, 1, 1))
    assert error.code == "birth_date"
    assert "future" in str(error)
    assert parse_resident_id(number, today=date(2025, 1, 2)).birth_date == date(2025, 1, 2)


def test_resident_id_unknown_province() -> None:
    error = error_of(make_resident_id("990101", date(1990, 3, 7), 123))
    assert error.code == "division"
    assert "99 is not a province code" in str(error)


def test_resident_id_division_before_it_existed() -> None:
    # 坪山区 (440310) was created in 2016, so nobody born in 1985 got a number under it.
    number = make_resident_id("440310", date(1985, 3, 15), 1)
    assert not ric.is_valid(number)
    error = error_of(number)
    assert error.code == "division"
    assert "1985" in str(error)
    assert "坪山区" in str(error)


def test_resident_id_unknown_county_under_known_province() -> None:
    number = make_resident_id("440399", date(1990, 3, 7), 123)
    error = error_of(number)
    assert error.code == "division"
    assert "not a known" in str(error)


def test_resident_id_district_established_years_agree_with_stdnum() -> None:
    for district in SHENZHEN_DISTRICTS:
        if district.gb_code is None:
            continue
        born = date(district.established, 12, 31)
        assert is_valid_resident_id(make_resident_id(district.code, born, 1), today=TODAY)
    for code in ("440309", "440310", "440311"):
        established = DIVISIONS[code].established
        number = make_resident_id(code, date(established - 1, 12, 31), 1)
        assert not is_valid_resident_id(number, today=TODAY)


def test_mask_resident_id() -> None:
    assert mask_resident_id("44030419900307123x") == "4403**********123X"
    # A stored number with a typo must still come out masked rather than raise.
    assert mask_resident_id("440304199003071235") == "4403**********1235"
    with pytest.raises(InvalidIdentifier) as caught:
        mask_resident_id("4403041990")
    assert caught.value.code == "length"


def test_make_resident_id_rejects_bad_shape() -> None:
    with pytest.raises(InvalidIdentifier):
        make_resident_id("4403", date(1990, 1, 1), 1)
    with pytest.raises(ValueError, match="sequence"):
        make_resident_id("440304", date(1990, 1, 1), 1000)


@FAST
@given(resident_id_parts())
def test_resident_id_round_trip(parts: tuple[str, date, int]) -> None:
    code, birth, sequence = parts
    parsed = parse_resident_id(make_resident_id(code, birth, sequence), today=TODAY)
    assert (parsed.division_code, parsed.birth_date, parsed.sequence) == parts
    assert parsed.sex == ("male" if sequence % 2 else "female")


@FAST
@given(resident_id_parts(), st.data())
def test_resident_id_any_single_change_is_rejected(
    parts: tuple[str, date, int], data: st.DataObject
) -> None:
    number = make_resident_id(*parts)
    position = data.draw(st.integers(0, 17))
    char = data.draw(replacement_for(number[position]))
    changed = number[:position] + char + number[position + 1 :]
    assert not is_valid_resident_id(changed, today=TODAY)


@FAST
@given(resident_id_parts())
def test_resident_id_valid_numbers_agree_with_stdnum(parts: tuple[str, date, int]) -> None:
    number = make_resident_id(*parts)
    assert ric.calc_check_digit(number) == number[-1]
    assert ric.is_valid(number)


@FAST
@given(
    st.sampled_from(["440304", "440310", "440311", "440399", "440321", "110103", "990101"]),
    st.integers(1900, 2024),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 999),
    st.one_of(st.none(), st.sampled_from("0123456789X")),
)
def test_resident_id_random_numbers_agree_with_stdnum(
    code: str, year: int, month: int, day: int, sequence: int, check: str | None
) -> None:
    body = f"{code}{year:04d}{month:02d}{day:02d}{sequence:03d}"
    number = body + (resident_id_check_char(body) if check is None else check)
    assert is_valid_resident_id(number, today=TODAY) == stdnum_ric_valid(number)


# 统一社会信用代码 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "authority_name", "entity_type_name", "division", "org_code"),
    [
        ("91440300MA5D12340D", "工商", "企业", "440300", "MA5D12340"),
        ("92440304MA5F00AB3B", "工商", "个体工商户", "440304", "MA5F00AB3"),
        ("12440300455758395N", "机构编制", "事业单位", "440300", "455758395"),
        ("91110000600037341L", "工商", "企业", "110000", "600037341"),
    ],
)
def test_known_usccs_parse(
    number: str, authority_name: str, entity_type_name: str, division: str, org_code: str
) -> None:
    parsed = parse_uscc(number)
    assert parsed.number == number
    assert (parsed.authority, parsed.entity_type) == (number[0], number[1])
    assert (parsed.authority_name, parsed.entity_type_name) == (authority_name, entity_type_name)
    assert (parsed.division_code, parsed.organization_code) == (division, org_code)
    assert parsed.check == number[-1]
    assert is_valid_uscc(number)
    assert uscc.is_valid(number)


def test_uscc_normalises_case_and_spaces() -> None:
    assert parse_uscc(" 91440300 ma5d12340d ").number == "91440300MA5D12340D"


def test_uscc_central_government_division() -> None:
    number = make_uscc("1", "1", "100000", "00001034")
    assert parse_uscc(number).division_code == "100000"


@pytest.mark.parametrize("value", ["", "91440300MA5D1234", "91440300MA5D12340DD"])
def test_uscc_wrong_length(value: str) -> None:
    error = uscc_error_of(value)
    assert error.code == "length"
    assert "18 characters" in str(error)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_uscc_excluded_letters(letter: str) -> None:
    error = uscc_error_of("91440300MA5D" + letter + "2340D")
    assert error.code == "format"
    assert letter in str(error)
    assert not is_valid_uscc("91440300MA5D" + letter + "2340D")


def test_uscc_letter_in_division_code() -> None:
    assert uscc_error_of("9144030AMA5D12340D").code == "format"


def test_uscc_bad_check_names_expected_char() -> None:
    error = uscc_error_of("91440300MA5D12340E")
    assert error.code == "checksum"
    assert "expected D, got E" in str(error)


def test_uscc_wrong_inner_organization_check() -> None:
    # MA5D1234's GB 11714 check is 0; use 1 and give the whole code a correct outer check.
    body = "91440300" + "MA5D1234" + "1"
    number = body + uscc_check_char(body)
    assert uscc.is_valid(number)  # stdnum only looks at the outer check
    error = uscc_error_of(number)
    assert error.code == "org_checksum"
    assert "expected 0, got 1" in str(error)


def test_organization_code_check_char_special_values() -> None:
    # 11 - (S mod 11) gives 10 -> X and 11 -> 0; find bodies that hit both.
    checks = {organization_code_check_char(f"{n:08d}") for n in range(200)}
    assert {"X", "0"} <= checks
    assert organization_code_check_char("60003734") == "1"


def test_uscc_unknown_authority() -> None:
    error = uscc_error_of(make_uscc("B", "1", "440300", "MA5D1234"))
    assert error.code == "authority"


def test_uscc_unknown_province() -> None:
    error = uscc_error_of(make_uscc("9", "1", "990000", "MA5D1234"))
    assert error.code == "division"


def test_uscc_authorities_cover_gb_32100() -> None:
    assert USCC_AUTHORITIES["9"] == "工商"
    assert USCC_AUTHORITIES["A"] == "中央军委改革和编制办公室"
    assert set(USCC_AUTHORITIES) == set("123456789ANY")
    assert USCC_ENTITY_TYPES["9"] == {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}


@FAST
@given(uscc_parts())
def test_uscc_round_trip(parts: tuple[str, str, str, str]) -> None:
    authority, entity_type, division, body = parts
    parsed = parse_uscc(make_uscc(*parts))
    assert (parsed.authority, parsed.entity_type) == (authority, entity_type)
    assert parsed.authority_name == USCC_AUTHORITIES[authority]
    assert parsed.entity_type_name == USCC_ENTITY_TYPES[authority][entity_type]
    assert parsed.division_code == division
    assert parsed.organization_code[:8] == body


@FAST
@given(uscc_parts(), st.data())
def test_uscc_any_single_change_is_rejected(
    parts: tuple[str, str, str, str], data: st.DataObject
) -> None:
    number = make_uscc(*parts)
    position = data.draw(st.integers(0, 17))
    char = data.draw(replacement_for(number[position]))
    changed = number[:position] + char + number[position + 1 :]
    assert not is_valid_uscc(changed)


@FAST
@given(uscc_parts())
def test_uscc_valid_numbers_agree_with_stdnum(parts: tuple[str, str, str, str]) -> None:
    number = make_uscc(*parts)
    assert uscc.calc_check_digit(number) == number[-1]
    # stdnum wants the first 8 characters to be digits, so it rejects authorities A, N, Y.
    assert uscc.is_valid(number) == parts[0].isdigit()


@FAST
@given(st.text(st.sampled_from(USCC_ALPHABET), min_size=18, max_size=18))
def test_uscc_random_strings_rejected_when_stdnum_rejects(value: str) -> None:
    assert uscc_check_char(value[:17]) == uscc.calc_check_digit(value)
    if value[0].isdigit() and not uscc.is_valid(value):
        assert not is_valid_uscc(value)


# 行政区划代码 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [("440000", "province"), ("440300", "prefecture"), ("440304", "county")],
)
def test_parse_division_code_levels(code: str, level: str) -> None:
    parsed = parse_division_code(code)
    assert (parsed.code, parsed.level) == (code, level)
    assert (parsed.province, parsed.prefecture, parsed.county) == (code[:2], code[2:4], code[4:])


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("4403", "length"),
        ("4403041", "length"),
        ("abcdef", "format"),
        ("４４０３０４", "format"),
        ("990000", "division"),
        ("4403DP", "format"),
    ],
)
def test_parse_division_code_rejects(value: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_division_code(value)
    assert caught.value.code == code


def test_shenzhen_districts() -> None:
    assert SHENZHEN_CITY.code == "440300"
    assert SHENZHEN_CITY.name == "深圳市"
    codes = [d.code for d in SHENZHEN_DISTRICTS]
    assert codes == [f"4403{n:02d}" for n in range(3, 12)] + ["4403DP"]
    assert "440301" not in codes
    assert [d.name_en for d in SHENZHEN_DISTRICTS] == [
        "Luohu",
        "Futian",
        "Nanshan",
        "Bao'an",
        "Longgang",
        "Yantian",
        "Longhua",
        "Pingshan",
        "Guangming",
        "Dapeng New District",
    ]
    assert all(d.parent_code == "440300" for d in SHENZHEN_DISTRICTS)
    assert DIVISIONS["440309"].established == 2016
    assert DIVISIONS["440310"].established == 2016
    assert DIVISIONS["440311"].established == 2018


def test_gb_districts_match_stdnum_names() -> None:
    for district in SHENZHEN_DISTRICTS:
        if district.gb_code is None:
            continue
        assert district.gb_code == district.code
        assert district.level == "county"
        number = make_resident_id(district.code, date(2020, 1, 1), 1)
        assert ric.get_birth_place(number)["county"] == district.name


def test_dapeng_is_a_functional_area_inside_longgang() -> None:
    dapeng = district_of("4403dp")
    assert dapeng is not None
    assert (dapeng.name, dapeng.level) == ("大鹏新区", "functional_area")
    assert dapeng.gb_code is None
    assert dapeng.within_code == "440307"
    assert resolves_to_gb("4403DP") == "440307"
    assert resolves_to_gb("440304") == "440304"


def test_district_of() -> None:
    futian = district_of("440304")
    assert futian is not None
    assert (futian.name, futian.name_en) == ("福田区", "Futian")
    assert district_of("440300") is None  # the city, not a district
    assert district_of("440301") is None  # 市辖区 placeholder
    assert district_of("110105") is None


def test_resolves_to_gb_rejects_unknown_codes() -> None:
    with pytest.raises(InvalidIdentifier):
        resolves_to_gb("4403XX")
