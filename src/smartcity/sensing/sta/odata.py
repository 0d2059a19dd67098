"""The query options of SensorThings (adapted from OData 4.0): parsing ``$filter`` and
``$orderby`` expressions into a small tree, and ``$expand`` (nested, with options),
``$select``, ``$top``, ``$skip``, ``$count`` and ``$resultFormat`` into QueryOptions.

Compilation of the tree lives in sqlfilter.py (to SQL) and pyfilter.py (evaluated in Python
for what SQL cannot do here, e.g. the geospatial functions without PostGIS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from smartcity.sensing.sta.entities import BadRequest, NotImplementedOption, QueryTooCostly
from smartcity.sensing.sta.times import (
    _DATETIME,
    Interval,
    parse_datetime,
    parse_duration,
)

# --- the expression tree -------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """kind: string, number, bool, null, datetime, date, time, duration, geometry, interval."""

    value: Any
    kind: str


@dataclass(frozen=True)
class Path:
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join(self.segments)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


Node = Literal | Path | Call | Binary | Not | Negate

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC = ("add", "sub", "mul", "div", "mod")
LOGICAL = ("and", "or")

# name -> (min args, max args)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "substringof": (2, 2),
    "endswith": (2, 2),
    "startswith": (2, 2),
    "contains": (2, 2),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "concat": (2, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "fractionalseconds": (1, 1),
    "date": (1, 1),
    "time": (1, 1),
    "totaloffsetminutes": (1, 1),
    "now": (0, 0),
    "mindatetime": (0, 0),
    "maxdatetime": (0, 0),
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "geo.distance": (2, 2),
    "geo.length": (1, 1),
    "geo.intersects": (2, 2),
    "st_equals": (2, 2),
    "st_disjoint": (2, 2),
    "st_touches": (2, 2),
    "st_within": (2, 2),
    "st_overlaps": (2, 2),
    "st_crosses": (2, 2),
    "st_intersects": (2, 2),
    "st_contains": (2, 2),
    "st_relate": (3, 3),
}
GEO_FUNCTIONS = frozenset(n for n in FUNCTIONS if n.startswith(("geo.", "st_")))
MIN_DATETIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# --- the lexer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # literal, name, op, '(', ')', ',', end
    value: Any
    pos: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<typed>(?:geography|geometry|duration|datetime|date|time)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<interval>"""
    + _DATETIME
    + "/"
    + _DATETIME
    + r""")
  | (?P<datetime>"""
    + _DATETIME
    + r""")
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT:]))
  | (?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?![\d]))
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@$][\w.@$]*(?:/[A-Za-z_@$\d][\w.@$]*)*)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
KEYWORDS = frozenset({*COMPARISONS, *ARITHMETIC, *LOGICAL, "not"})


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise BadRequest(f"Unexpected character {text[pos]!r} at position {pos + 1}.")
        kind = match.lastgroup
        raw = match.group()
        if kind == "ws":
            pass
        elif kind == "string":
            tokens.append(Token("literal", Literal(raw[1:-1].replace("''", "'"), "string"), pos))
        elif kind == "typed":
            prefix, _, rest = raw.partition("'")
            tokens.append(
                Token("literal", _typed_literal(prefix, rest[:-1].replace("''", "'")), pos)
            )
        elif kind == "interval":
            first, _, second = raw.partition("/")
            interval = Interval(parse_datetime(first), parse_datetime(second))
            tokens.append(Token("literal", Literal(interval, "interval"), pos))
        elif kind == "datetime":
            tokens.append(Token("literal", Literal(parse_datetime(raw), "datetime"), pos))
        elif kind == "date":
            try:
                tokens.append(Token("literal", Literal(date.fromisoformat(raw), "date"), pos))
            except ValueError as exc:
                raise BadRequest(f"'{raw}' is not a valid date.") from exc
        elif kind == "time":
            try:
                tokens.append(Token("literal", Literal(time.fromisoformat(raw), "time"), pos))
            except ValueError as exc:
                raise BadRequest(f"'{raw}' is not a valid time of day.") from exc
        elif kind == "number":
            number: float | int = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(Token("literal", Literal(number, "number"), pos))
        elif kind == "name":
            lowered = raw.lower()
            if raw in ("true", "false"):
                tokens.append(Token("literal", Literal(raw == "true", "bool"), pos))
            elif raw == "null":
                tokens.append(Token("literal", Literal(None, "null"), pos))
            elif lowered in KEYWORDS and raw == lowered:
                tokens.append(Token("op", lowered, pos))
            else:
                tokens.append(Token("name", raw, pos))
        else:
            tokens.append(Token(raw, raw, pos))
        pos = match.end()
    tokens.append(Token("end", None, pos))
    return tokens


def _typed_literal(prefix: str, body: str) -> Literal:
    if prefix in ("geography", "geometry"):
        from shapely import wkt
        from shapely.errors import ShapelyError

        text = re.sub(r"^SRID=\d+;", "", body.strip(), flags=re.IGNORECASE)
        try:
            return Literal(wkt.loads(text), "geometry")
        except (ShapelyError, ValueError, TypeError) as exc:
            raise BadRequest(f"{prefix}'{body}' is not valid WKT.") from exc
    if prefix == "duration":
        return Literal(parse_duration(body), "duration")
    if prefix == "datetime":
        return Literal(parse_datetime(body), "datetime")
    if prefix == "date":
        try:
            return Literal(date.fromisoformat(body), "date")
        except ValueError as exc:
            raise BadRequest(f"'{body}' is not a valid date.") from exc
    try:
        return Literal(time.fromisoformat(body), "time")
    except ValueError as exc:
        raise BadRequest(f"'{body}' is not a valid time of day.") from exc


# --- the parser ---------------------------------------------------------------------------------


class _Parser:
    """Precedence, loosest first: or, and, not, comparison, add/sub, mul/div/mod, unary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, kind: str) -> Token:
        if self.token.kind != kind:
            raise BadRequest(
                f"Expected {kind!r} at position {self.token.pos + 1} of '{self.text}'."
            )
        return self.take()

    def at_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.value in ops

    def parse(self) -> Node:
        node = self.or_expr()
        if self.token.kind != "end":
            raise BadRequest(
                f"Unexpected {self.token.value!r} at position {self.token.pos + 1} of "
                f"'{self.text}'."
            )
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at_op("or"):
            self.take()
            node = Binary("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at_op("and"):
            self.take()
            node = Binary("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.at_op("not"):
            self.take()
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        if self.at_op(*COMPARISONS):
            op = self.take().value
            node = Binary(op, node, self.additive())
            if self.at_op(*COMPARISONS):
                raise BadRequest("Comparisons cannot be chained; combine them with and.")
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at_op("add", "sub"):
            op = self.take().value
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at_op("mul", "div", "mod"):
            op = self.take().value
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.token.kind == "name" and self.token.value == "-":
            self.take()
            return Negate(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "literal":
            self.take()
            value: Literal = token.value
            return value
        if token.kind == "(":
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        if token.kind == "name":
            self.take()
            if self.token.kind == "(":
                return self.call(token.value, token.pos)
            return Path(tuple(token.value.split("/")))
        if token.kind == "end":
            raise BadRequest(f"The expression '{self.text}' ends too early.")
        raise BadRequest(f"Unexpected {token.value!r} at position {token.pos + 1}.")

    def call(self, name: str, pos: int) -> Node:
        lowered = name.lower()
        if lowered not in FUNCTIONS:
            raise BadRequest(f"Unknown function {name}() at position {pos + 1}.")
        self.expect("(")
        args: list[Node] = []
        if self.token.kind != ")":
            args.append(self.or_expr())
            while self.token.kind == ",":
                self.take()
                args.append(self.or_expr())
        self.expect(")")
        low, high = FUNCTIONS[lowered]
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise BadRequest(f"{name}() takes {wanted} arguments, not {len(args)}.")
        return Call(lowered, tuple(args))


MAX_EXPRESSION = 4000


def parse_expression(text: str) -> Node:
    if not text.strip():
        raise BadRequest("The expression is empty.")
    if len(text) > MAX_EXPRESSION:
        raise BadRequest(f"The expression is longer than {MAX_EXPRESSION} characters.")
    try:
        return _Parser(text).parse()
    except RecursionError as exc:
        raise BadRequest("The expression is nested too deeply.") from exc


def walk(node: Node) -> list[Node]:
    """The node and everything under it."""
    found: list[Node] = [node]
    if isinstance(node, Binary):
        found += walk(node.left) + walk(node.right)
    elif isinstance(node, Not | Negate):
        found += walk(node.operand)
    elif isinstance(node, Call):
        for arg in node.args:
            found += walk(arg)
    return found


def uses_geo(node: Node) -> bool:
    return any(isinstance(n, Call) and n.name in GEO_FUNCTIONS for n in walk(node))


# --- query options --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    expr: Node
    descending: bool = False


@dataclass
class QueryOptions:
    filter: Node | None = None
    filter_text: str = ""
    expand: dict[str, QueryOptions] = field(default_factory=dict)
    select: list[str] | None = None
    orderby: list[OrderItem] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    result_format: str | None = None
    # The options as given, for nextLinks of expanded collections.
    raw: dict[str, str] = field(default_factory=dict)


SUPPORTED = (
    "$filter",
    "$expand",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$resultFormat",
)
KNOWN_UNSUPPORTED = (
    "$search",
    "$apply",
    "$format",
    "$levels",
    "$compute",
    "$index",
    "$schemaversion",
    "$skiptoken",
    "$deltatoken",
    "$id",
)


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on a separator outside parentheses and quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"Unbalanced parentheses in '{text}'.")
        if char == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0 or quoted:
        raise BadRequest(f"Unbalanced parentheses or quotes in '{text}'.")
    parts.append("".join(current))
    return parts


def _non_negative(name: str, value: str) -> int:
    if not re.fullmatch(r"\s*\d{1,18}\s*", value):
        raise BadRequest(f"{name} must be a non-negative integer, not '{value}'.")
    return int(value)


def parse_options(params: Mapping[str, str], *, nested: bool = False) -> QueryOptions:
    """Query options from name → value (already URL-decoded). Unknown ``$`` options are 501,
    a bad value is 400."""
    options = QueryOptions(raw=dict(params))
    for name, value in params.items():
        if not name.startswith("$"):
            continue
        if name not in SUPPORTED:
            if name.lower() in KNOWN_UNSUPPORTED:
                raise NotImplementedOption(f"The query option {name} is not supported.")
            raise BadRequest(f"Unknown query option {name}.")
        if name == "$filter":
            options.filter = parse_expression(value)
            options.filter_text = value
        elif name == "$expand":
            options.expand = parse_expand(value)
        elif name == "$select":
            options.select = [s.strip() for s in split_top_level(value, ",")]
            if any(not s for s in options.select):
                raise BadRequest(f"$select has an empty item: '{value}'.")
        elif name == "$orderby":
            options.orderby = parse_orderby(value)
        elif name == "$top":
            options.top = _non_negative("$top", value)
        elif name == "$skip":
            options.skip = _non_negative("$skip", value)
        elif name == "$count":
            if value not in ("true", "false"):
                raise BadRequest(f"$count must be true or false, not '{value}'.")
            options.count = value == "true"
        elif name == "$resultFormat":
            if nested:
                raise BadRequest("$resultFormat cannot be used inside $expand.")
            if value != "dataArray":
                raise BadRequest(f"$resultFormat supports dataArray, not '{value}'.")
            options.result_format = value
    if not nested:
        check_expand_depth(options.expand)
    return options


def expand_depth(expand: dict[str, QueryOptions]) -> int:
    """How many levels of navigation ``$expand`` goes down (A/B/C is 3)."""
    return max((1 + expand_depth(o.expand) for o in expand.values()), default=0)


def check_expand_depth(expand: dict[str, QueryOptions]) -> None:
    # Each level multiplies the entities read by up to $top (Datastreams/Thing/Datastreams/…
    # at depth 10 read millions); a fixed depth bounds that before any SQL runs.
    from smartcity.settings import get_settings

    limit = get_settings().sta_max_expand_depth
    depth = expand_depth(expand)
    if depth > limit:
        raise QueryTooCostly(
            f"$expand goes {depth} levels deep; this service expands at most {limit} levels "
            "(sta_max_expand_depth). Follow the navigationLinks for deeper entities.",
            limit="sta_max_expand_depth",
            max_expand_depth=limit,
        )


def parse_orderby(text: str) -> list[OrderItem]:
    items = []
    for part in split_top_level(text, ","):
        part = part.strip()
        # Any case: some clients (frost-sta-client) send DESC.
        match = re.fullmatch(r"(.*?)(?:\s+(asc|desc))?", part, flags=re.DOTALL | re.IGNORECASE)
        assert match is not None
        expr_text, direction = match.group(1), (match.group(2) or "").lower()
        if not expr_text.strip():
            raise BadRequest(f"$orderby has an empty item: '{text}'.")
        items.append(OrderItem(parse_expression(expr_text), direction == "desc"))
    return items


def parse_expand(text: str) -> dict[str, QueryOptions]:
    """``A($top=1;$expand=B),C/D`` → {A: options(expand B), C: options(expand D)}."""
    expanded: dict[str, QueryOptions] = {}
    for item in split_top_level(text, ","):
        item = item.strip()
        if not item:
            raise BadRequest(f"$expand has an empty item: '{text}'.")
        match = re.fullmatch(r"([^()]+?)\s*(?:\((.*)\))?", item, flags=re.DOTALL)
        if match is None:
            raise BadRequest(f"Cannot read the $expand item '{item}'.")
        path, inner = match.group(1).strip(), match.group(2)
        segments = [s.strip() for s in path.split("/")]
        if any(not s for s in segments):
            raise BadRequest(f"Cannot read the $expand path '{path}'.")
        options = _expand_options(inner) if inner is not None else QueryOptions()
        # A/B/C: expand A, in it B, in that C with the options.
        for segment in reversed(segments[1:]):
            options = QueryOptions(expand={segment: options})
        _merge(expanded, segments[0], options)
    return expanded


def _merge(into: dict[str, QueryOptions], name: str, options: QueryOptions) -> None:
    if name not in into:
        into[name] = options
        return
    current = into[name]
    for child, child_options in options.expand.items():
        _merge(current.expand, child, child_options)
    plain = replace(options, expand={})
    if plain != QueryOptions():
        merged = replace(plain, expand=current.expand)
        into[name] = merged


def _expand_options(inner: str) -> QueryOptions:
    params: dict[str, str] = {}
    for part in split_top_level(inner, ";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name.startswith("$"):
            raise BadRequest(f"Expected $option=value inside $expand, not '{part}'.")
        if name in params:
            raise BadRequest(f"{name} is given twice inside $expand.")
        params[name] = value.strip()
    return parse_options(params, nested=True)


def render_expand(expand: dict[str, QueryOptions]) -> str:
    """$expand back to text (for nextLinks of expanded collections)."""
    parts = []
    for name, options in expand.items():
        inner = render_options(options)
        parts.append(f"{name}({';'.join(f'{k}={v}' for k, v in inner.items())})" if inner else name)
    return ",".join(parts)


def render_options(options: QueryOptions) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("$filter", "$select", "$orderby", "$count"):
        if key in options.raw:
            out[key] = options.raw[key]
    if options.expand:
        out["$expand"] = render_expand(options.expand)
    if options.top is not None:
        out["$top"] = str(options.top)
    if options.skip:
        out["$skip"] = str(options.skip)
    return out
