"""Chinese identifiers: 公民身份号码, 统一社会信用代码 and 行政区划代码, validated and parsed."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from smartcity.core import clock

__all__ = [
    "DIVISIONS",
    "PROVINCE_CODES",
    "SHENZHEN_CITY",
    "SHENZHEN_DISTRICTS",
    "USCC_AUTHORITIES",
    "USCC_ENTITY_TYPES",
    "DivisionCode",
    "DivisionInfo",
    "InvalidIdentifier",
    "ResidentId",
    "Uscc",
    "district_of",
    "is_valid_resident_id",
    "is_valid_uscc",
    "make_resident_id",
    "make_uscc",
    "mask_resident_id",
    "organization_code_check_char",
    "parse_division_code",
    "parse_resident_id",
    "parse_uscc",
    "resident_id_check_char",
    "resolves_to_gb",
    "uscc_check_char",
]

ErrorCode = Literal[
    "length", "format", "checksum", "org_checksum", "birth_date", "division", "authority"
]
Sex = Literal["male", "female"]
DivisionLevel = Literal["province", "prefecture", "county"]
DivisionInfoLevel = Literal["province", "prefecture", "county", "functional_area"]


class InvalidIdentifier(ValueError):
    """An identifier that fails validation (号码/代码无效); ``code`` says which rule it broke."""

    def __init__(self, message: str, *, code: ErrorCode) -> None:
        super().__init__(message)
        self.code: ErrorCode = code


def _normalise(value: str) -> str:
    # People paste numbers with spaces (str.split also drops the full-width U+3000) and
    # type a lowercase x.
    return "".join(value.split()).upper()


def _require_length(value: str, what: str) -> None:
    if len(value) != 18:
        raise InvalidIdentifier(f"{what} must be 18 characters, got {len(value)}", code="length")


# 行政区划代码 ---------------------------------------------------------------------

PROVINCE_CODES: frozenset[str] = frozenset(
    [
        *(str(n) for n in range(11, 16)),
        *(str(n) for n in range(21, 24)),
        *(str(n) for n in range(31, 38)),
        *(str(n) for n in range(41, 47)),
        *(str(n) for n in range(50, 55)),
        *(str(n) for n in range(61, 66)),
        "71",
        "81",
        "82",
    ]
)

_SIX_DIGITS = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class DivisionCode:
    """A parsed 行政区划代码 (GB/T 2260) split into its three two-digit parts."""

    code: str
    province: str
    prefecture: str
    county: str
    level: DivisionLevel


@dataclass(frozen=True, slots=True)
class DivisionInfo:
    """One 行政区划 the platform knows by name; ``gb_code`` is None for non-GB areas."""

    code: str
    name: str
    name_en: str
    level: DivisionInfoLevel
    parent_code: str
    gb_code: str | None
    within_code: str | None
    established: int


def parse_division_code(value: str) -> DivisionCode:
    """Parse and check a six-digit 行政区划代码 (GB/T 2260)."""
    code = _normalise(value)
    if len(code) != 6:
        raise InvalidIdentifier(
            f"division code must be 6 digits, got {len(code)} characters", code="length"
        )
    # re's [0-9] rather than str.isdigit(), which also accepts full-width and other digits.
    if not _SIX_DIGITS.fullmatch(code):
        raise InvalidIdentifier(
            f"division code may contain only the digits 0-9, got {value.strip()!r}", code="format"
        )
    province, prefecture, county = code[:2], code[2:4], code[4:]
    if province not in PROVINCE_CODES:
        raise InvalidIdentifier(
            f"division code {code} is not a GB/T 2260 code: {province} is not a province code",
            code="division",
        )
    level: DivisionLevel
    if prefecture == "00" and county == "00":
        level = "province"
    elif county == "00":
        level = "prefecture"
    else:
        level = "county"
    return DivisionCode(code, province, prefecture, county, level)


SHENZHEN_CITY = DivisionInfo(
    code="440300",
    name="深圳市",
    name_en="Shenzhen",
    level="prefecture",
    parent_code="440000",
    gb_code="440300",
    within_code=None,
    established=1979,
)


def _district(code: str, name: str, name_en: str, established: int) -> DivisionInfo:
    return DivisionInfo(code, name, name_en, "county", "440300", code, None, established)


# 440301 市辖区 is a GB/T 2260 placeholder for "the city's districts", not a district.
# Years are when each district was set up under its current code, as in stdnum's code
# history; 罗湖/福田/南山 used the same codes as 办事处 from 1983, which stdnum accepts.
SHENZHEN_DISTRICTS: tuple[DivisionInfo, ...] = (
    _district("440303", "罗湖区", "Luohu", 1990),
    _district("440304", "福田区", "Futian", 1990),
    _district("440305", "南山区", "Nanshan", 1990),
    _district("440306", "宝安区", "Bao'an", 1992),
    _district("440307", "龙岗区", "Longgang", 1992),
    _district("440308", "盐田区", "Yantian", 1997),
    _district("440309", "龙华区", "Longhua", 2016),
    _district("440310", "坪山区", "Pingshan", 2016),
    _district("440311", "光明区", "Guangming", 2018),
    # 大鹏新区 is a functional area with no GB/T 2260 code; its subdistricts legally
    # belong to 龙岗区, so records there must resolve to 440307 for anything national.
    DivisionInfo(
        code="4403DP",
        name="大鹏新区",
        name_en="Dapeng New District",
        level="functional_area",
        parent_code="440300",
        gb_code=None,
        within_code="440307",
        established=2011,
    ),
)

DIVISIONS: Mapping[str, DivisionInfo] = MappingProxyType(
    {info.code: info for info in (SHENZHEN_CITY, *SHENZHEN_DISTRICTS)}
)

_DISTRICTS_BY_CODE: Mapping[str, DivisionInfo] = MappingProxyType(
    {info.code: info for info in SHENZHEN_DISTRICTS}
)


def district_of(code: str) -> DivisionInfo | None:
    """The Shenzhen district (区) for a 行政区划代码 or 4403DP, else None."""
    return _DISTRICTS_BY_CODE.get(_normalise(code))


def resolves_to_gb(code: str) -> str:
    """The GB/T 2260 行政区划代码 to report for a code, mapping 4403DP to 440307."""
    normalised = _normalise(code)
    info = DIVISIONS.get(normalised)
    if info is not None and info.gb_code is None:
        assert info.within_code is not None
        return info.within_code
    return parse_division_code(normalised).code


# 公民身份号码 (GB 11643-1999) ----------------------------------------------------

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK_CHARS = "10X98765432"
_SEVENTEEN_DIGITS = re.compile(r"[0-9]{17}")


@dataclass(frozen=True, slots=True, repr=False)
class ResidentId:
    """A parsed 公民身份号码 (GB 11643-1999)."""

    number: str
    division_code: str
    birth_date: date
    sex: Sex
    sequence: int

    def __repr__(self) -> str:
        # The number is personal information (个人信息); keep it out of logs and tracebacks.
        return f"ResidentId(number={mask_resident_id(self.number)!r})"


def resident_id_check_char(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of a 公民身份号码."""
    if not _SEVENTEEN_DIGITS.fullmatch(body):
        raise InvalidIdentifier("resident ID number body must be exactly 17 digits", code="format")
    total = sum(int(digit) * weight for digit, weight in zip(body, _RIC_WEIGHTS, strict=True))
    return _RIC_CHECK_CHARS[total % 11]


def make_resident_id(division_code: str, birth_date: date, sequence: int) -> str:
    """Build a 公民身份号码 with its check character; only the shape is checked here."""
    # Deliberately no province or code-history check, so tests can build numbers that
    # parse_resident_id must reject; parse what you make if you need a valid one.
    if not _SIX_DIGITS.fullmatch(division_code):
        raise InvalidIdentifier(
            f"division code must be 6 digits, got {division_code!r}", code="format"
        )
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be between 0 and 999, got {sequence}")
    body = (
        f"{division_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
        f"{sequence:03d}"
    )
    return body + resident_id_check_char(body)


def mask_resident_id(value: str) -> str:
    """Mask a 公民身份号码 for display, keeping the first 4 and last 4: 4403**********123X."""
    # No checksum check: stored numbers with a typo must still be shown masked, not leaked.
    number = _normalise(value)
    _require_length(number, "resident ID number")
    return number[:4] + "*" * 10 + number[-4:]


@functools.lru_cache(maxsize=4096)
def _county_history(code: str) -> tuple[tuple[int | None, int | None, str], ...]:
    """The (first year, last year, name) spans stdnum knows for a 行政区划代码. Remembered:
    naming the spans of a refused number was most of the demo's 10,000-person seeding."""
    spans: list[tuple[int | None, int | None, str]] = []
    for part, props in numdb.get("cn/loc").info(code):
        if len(part) != 4 or "county" not in props:
            continue
        for entry in props["county"].split(","):
            match = re.fullmatch(r"\[(\d*)-(\d*)\](.*)", entry)
            if match is None:
                spans.append((None, None, entry))
            else:
                start, end, name = match.groups()
                spans.append((int(start) if start else None, int(end) if end else None, name))
    return tuple(spans)


def _division_not_in_use(code: str, year: int) -> InvalidIdentifier:
    spans = _county_history(code)
    if not spans:
        return InvalidIdentifier(
            f"division code {code} is not a known GB/T 2260 code", code="division"
        )
    uses = "; ".join(f"{name} {start or ''}-{end or ''}".rstrip() for start, end, name in spans)
    return InvalidIdentifier(
        f"division code {code} was not in use in the birth year {year} (in use: {uses})",
        code="division",
    )


_IN_USE: dict[tuple[str, int], bool] = {}


def _division_in_use(number: str, division_code: str, year: int) -> bool:
    """Whether the code was in use in the birth year, remembered per (code, year): the
    lookup in stdnum's code history was half the time of a bulk import."""
    known = _IN_USE.get((division_code, year))
    if known is None:
        # stdnum knows which county codes were valid in which years; it raises KeyError
        # (not a ValidationError) for a county code it has never heard of.
        try:
            ric.get_birth_place(number)
            known = True
        except (ValidationError, KeyError):
            known = False
        if len(_IN_USE) < 200_000:  # ~3,000 codes x ~130 years; bounded regardless
            _IN_USE[(division_code, year)] = known
    return known


def parse_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    """Parse and check a 公民身份号码; ``today`` bounds the birth date (default: city date)."""
    number = _normalise(value)
    _require_length(number, "resident ID number")
    for position, char in enumerate(number, start=1):
        allowed = "0123456789X" if position == 18 else "0123456789"
        if char not in allowed:
            raise InvalidIdentifier(
                "resident ID number may contain only digits, with X allowed as the last "
                f"character; found {char!r} at position {position}",
                code="format",
            )
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise InvalidIdentifier(
            f"resident ID number check character is wrong: expected {expected}, got {number[17]}",
            code="checksum",
        )
    division_code = number[:6]
    if division_code[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(
            f"unknown division code {division_code}: {division_code[:2]} is not a province code",
            code="division",
        )
    digits = number[6:14]
    try:
        birth_date = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise InvalidIdentifier(
            f"impossible birth date {digits[:4]}-{digits[4:6]}-{digits[6:]}",
            code="birth_date",
        ) from None
    if today is None:
        today = clock.to_city(clock.now()).date()
    if birth_date > today:
        raise InvalidIdentifier(
            f"birth date {birth_date.isoformat()} is in the future (today is {today.isoformat()})",
            code="birth_date",
        )
    if not _division_in_use(number, division_code, birth_date.year):
        raise _division_not_in_use(division_code, birth_date.year)
    sequence = int(number[14:17])
    sex: Sex = "male" if sequence % 2 else "female"
    return ResidentId(number, division_code, birth_date, sex, sequence)


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    """Whether a value is a valid 公民身份号码."""
    try:
        parse_resident_id(value, today=today)
    except InvalidIdentifier:
        return False
    return True


# 统一社会信用代码 (GB 32100-2015) -------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# Central-government registrations (e.g. 国务院部门) use 100000, which is not a province.
_NATIONAL_DIVISION = "100000"

USCC_AUTHORITIES: Mapping[str, str] = MappingProxyType(
    {
        "1": "机构编制",
        "2": "外交",
        "3": "司法行政",
        "4": "文化",
        "5": "民政",
        "6": "旅游",
        "7": "宗教",
        "8": "工会",
        "9": "工商",
        "A": "中央军委改革和编制办公室",
        "N": "农业",
        "Y": "其他",
    }
)

USCC_ENTITY_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
        "2": {"1": "外国常驻新闻机构", "9": "其他"},
        "3": {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
        "4": {"1": "外国在华文化中心", "9": "其他"},
        "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
        "6": {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
        "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
        "8": {"1": "基层工会", "9": "其他"},
        "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
        "A": {"1": "军队事业单位", "9": "其他"},
        "N": {
            "1": "组级集体经济组织",
            "2": "村级集体经济组织",
            "3": "乡镇级集体经济组织",
            "9": "其他",
        },
        "Y": {"1": "其他"},
    }
)


@dataclass(frozen=True, slots=True)
class Uscc:
    """A parsed 统一社会信用代码 (GB 32100-2015)."""

    number: str
    authority: str
    authority_name: str
    entity_type: str
    entity_type_name: str | None
    division_code: str
    organization_code: str
    check: str


def _require_uscc_chars(value: str, what: str) -> None:
    for position, char in enumerate(value, start=1):
        if char not in _USCC_VALUES:
            hint = " (I, O, S, V and Z are never used)" if char in "IOSVZ" else ""
            raise InvalidIdentifier(
                f"{what} may contain only digits and the letters {_USCC_ALPHABET[10:]}"
                f"{hint}; found {char!r} at position {position}",
                code="format",
            )


def organization_code_check_char(body: str) -> str:
    """The GB 11714 check character for the 8-character body of a 组织机构代码."""
    if len(body) != 8:
        raise InvalidIdentifier(
            f"organization code body must be 8 characters, got {len(body)}", code="length"
        )
    _require_uscc_chars(body, "organization code body")
    # GB 11714 values letters A-Z as 10-35, not by their place in GB 32100's alphabet, so
    # letters from J on weigh differently here than in the outer check.
    total = sum(int(char, 36) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(body: str) -> str:
    """The GB 32100 check character (MOD 31) for the first 17 characters of a 统一社会信用代码."""
    if len(body) != 17:
        raise InvalidIdentifier(
            f"credit code body must be 17 characters, got {len(body)}", code="length"
        )
    _require_uscc_chars(body, "credit code body")
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(body, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_ALPHABET[-total % 31]


def make_uscc(authority: str, entity_type: str, division_code: str, org_code_body: str) -> str:
    """Build a 统一社会信用代码 from its parts, computing both check characters."""
    # Like make_resident_id, only the shape is checked, so tests can build bad codes.
    if len(authority) != 1 or len(entity_type) != 1:
        raise InvalidIdentifier(
            "authority and entity type must be one character each", code="length"
        )
    if not _SIX_DIGITS.fullmatch(division_code):
        raise InvalidIdentifier(
            f"division code must be 6 digits, got {division_code!r}", code="format"
        )
    _require_uscc_chars(authority + entity_type, "authority and entity type")
    org_code = org_code_body + organization_code_check_char(org_code_body)
    body = authority + entity_type + division_code + org_code
    return body + uscc_check_char(body)


def parse_uscc(value: str) -> Uscc:
    """Parse and check a 统一社会信用代码, including its inner GB 11714 check character."""
    number = _normalise(value)
    _require_length(number, "unified social credit code")
    _require_uscc_chars(number, "unified social credit code")
    division_code = number[2:8]
    if not _SIX_DIGITS.fullmatch(division_code):
        raise InvalidIdentifier(
            f"characters 3-8 of a unified social credit code are a division code and must "
            f"be digits, got {division_code!r}",
            code="format",
        )
    expected = uscc_check_char(number[:17])
    if number[17] != expected:
        raise InvalidIdentifier(
            f"unified social credit code check character is wrong: expected {expected}, "
            f"got {number[17]}",
            code="checksum",
        )
    # stdnum stops at the outer check, so a code whose outer check was computed over an
    # already-wrong organization code (hand-made or fake codes) would slip through.
    org_code = number[8:17]
    org_expected = organization_code_check_char(org_code[:8])
    if org_code[8] != org_expected:
        raise InvalidIdentifier(
            f"organization code {org_code} (characters 9-17) has a wrong GB 11714 check "
            f"character: expected {org_expected}, got {org_code[8]}",
            code="org_checksum",
        )
    authority = number[0]
    authority_name = USCC_AUTHORITIES.get(authority)
    if authority_name is None:
        raise InvalidIdentifier(
            f"unknown registration authority code {authority!r} (first character); known: "
            + ", ".join(USCC_AUTHORITIES),
            code="authority",
        )
    if division_code != _NATIONAL_DIVISION and division_code[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(
            f"unknown division code {division_code}: {division_code[:2]} is not a province code",
            code="division",
        )
    entity_type = number[1]
    return Uscc(
        number=number,
        authority=authority,
        authority_name=authority_name,
        entity_type=entity_type,
        entity_type_name=USCC_ENTITY_TYPES[authority].get(entity_type),
        division_code=division_code,
        organization_code=org_code,
        check=number[17],
    )


def is_valid_uscc(value: str) -> bool:
    """Whether a value is a valid 统一社会信用代码."""
    try:
        parse_uscc(value)
    except InvalidIdentifier:
        return False
    return True
