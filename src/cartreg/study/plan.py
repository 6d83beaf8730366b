"""Plan files: a study as data (docs/plans.md).

A plan is a TOML file with a ``[study]`` table (name, title, ``population`` or ``where``), an optional
``[parameters]`` table (the analysis parameters) and blocks in the order they appear:
``[[table]]``, ``[[survival]]``, ``[[cuminc]]``, ``[[model]]``. :func:`parse_plan` validates every key,
endpoint and column against the endpoint catalogue (:mod:`cartreg.endpoints.catalogue`) and returns
frozen dataclasses; an unknown name is a one-line :class:`CartregError` (exit 2) naming it and listing
what exists. The ``where`` filter is compiled by :func:`compile_where` into DuckDB SQL from a small
grammar (column names checked against the catalogue, literals bound as parameters, never pasted).

>>> plan = parse_plan_text('[study]\\nname = "x"\\npopulation = "infused"\\n'
...                        '[[survival]]\\nendpoint = "os_infusion"\\nby = "product"\\n')
>>> plan.blocks[0].endpoint, plan.blocks[0].kind
('os_infusion', 'survival')
>>> compile_where("late and product = 'axi-cel'")
('("late") AND ("product" = $w0)', {'w0': 'axi-cel'})
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartreg.endpoints.catalogue import COHORT_FLAGS, COLUMNS_BY_NAME, COMPETING, TIME_TO_EVENT
from cartreg.endpoints.derive import EndpointRules
from cartreg.endpoints.treatment_classes import DEFAULT_PRECEDENCE, validate_precedence
from cartreg.errors import CartregError
from cartreg.study.params import CONF_TYPES, _coerce

BLOCK_KINDS = ("table", "survival", "cuminc", "model")
MODEL_KINDS = ("logistic", "cox")


class PlanInputError(CartregError):
    """A problem with the plan itself (unknown name, level absent from the data, missing module): the
    plan stops. Other errors raised while a block is computed (an estimator that cannot fit these
    data) are kept in that block's ``error`` and the plan goes on."""


def _err(where: str, message: str) -> CartregError:
    return PlanInputError(f"{where}: {message}" if where else message, exit_code=2)


def _listing(names: Any) -> str:
    return ", ".join(sorted(str(n) for n in names))


@dataclass(frozen=True)
class PlanParams:
    """Parameters of a plan (``[parameters]``), as the late-failure study's TOML.

    conf_type, conf_level: Kaplan-Meier pointwise CIs and every CI level.
    late_after_days, min_untreated_followup_days, treated_origin, class_precedence, class_map: the
    endpoint rules (docs/endpoints.md). risk_table_step_months: spacing of the risk tables.
    lymphoma_death_as_relapse: in ``relapse_nrm``, a death from lymphoma without a documented failure
    is relapse (CIBMTR) instead of non-relapse mortality (default, the issue's definition). With the
    default ``lymphoma_death_as_failure = true`` such a death is already a failure, hence a relapse.
    failure_treatment_window_days, pfs_censoring, lymphoma_death_as_failure, line_window_days,
    cutoff_rule: the endpoint rules of issue 10, with the same defaults as the late-failure study
    (docs/endpoints.md, *Rules of issue 10*).
    """

    conf_type: str = "log-log"
    conf_level: float = 0.95
    late_after_days: float = 91.3125
    min_untreated_followup_days: int = 30
    treated_origin: str = "treatment_start"
    class_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    class_map: str | None = None
    risk_table_step_months: float = 3.0
    lymphoma_death_as_relapse: bool = False
    failure_treatment_window_days: int = 30
    pfs_censoring: str = "last-assessment"
    lymphoma_death_as_failure: bool = True
    line_window_days: int = 14
    cutoff_rule: str = "censor"

    def __post_init__(self) -> None:
        if not isinstance(self.lymphoma_death_as_relapse, bool):
            raise _err("", f"lymphoma_death_as_relapse must be true or false, got {self.lymphoma_death_as_relapse!r}")
        if self.conf_type not in CONF_TYPES:
            raise _err("", f"conf_type must be one of {', '.join(CONF_TYPES)}, got {self.conf_type!r}")
        if not 0 < self.conf_level < 1:
            raise _err("", f"conf_level must be between 0 and 1, got {self.conf_level!r}")
        if self.risk_table_step_months <= 0:
            raise _err("", "risk_table_step_months must be > 0")
        object.__setattr__(self, "class_precedence", validate_precedence(self.class_precedence))
        self.rules()

    def rules(self, data_cutoff: dt.date | None = None) -> EndpointRules:
        """The endpoint rules of these parameters, at the data freeze ``data_cutoff``."""
        return EndpointRules(
            late_after_days=float(self.late_after_days),
            min_untreated_followup_days=int(self.min_untreated_followup_days),
            class_precedence=self.class_precedence,
            treated_origin=self.treated_origin,  # type: ignore[arg-type]
            failure_treatment_window_days=int(self.failure_treatment_window_days),
            pfs_censoring=self.pfs_censoring,  # type: ignore[arg-type]
            lymphoma_death_as_failure=bool(self.lymphoma_death_as_failure),
            line_window_days=int(self.line_window_days),
            data_cutoff=data_cutoff,
            cutoff_rule=self.cutoff_rule,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


PARAM_NAMES = tuple(f.name for f in dataclasses.fields(PlanParams))


@dataclass(frozen=True)
class StudySpec:
    name: str
    title: str
    population: str | None
    where: str | None
    description: str = ""


@dataclass(frozen=True)
class TableBlock:
    by: str
    variables: tuple[str, ...]
    where: str | None = None
    title: str = ""
    kind: str = "table"


@dataclass(frozen=True)
class SurvivalBlock:
    endpoint: str
    by: str | None = None
    reference: str | None = None
    landmarks_months: tuple[float, ...] = ()
    adjust: tuple[str, ...] = ()
    where: str | None = None
    title: str = ""
    kind: str = "survival"


@dataclass(frozen=True)
class CumincBlock:
    endpoint: str
    by: str | None = None
    times_months: tuple[float, ...] = (3.0, 6.0, 12.0)
    adjust: tuple[str, ...] = ()
    reference: str | None = None
    where: str | None = None
    title: str = ""
    kind: str = "cuminc"


@dataclass(frozen=True)
class ModelBlock:
    model: str  # logistic | cox
    outcome: str
    covariates: tuple[str, ...]
    reference_levels: tuple[tuple[str, str], ...] = ()
    firth: bool = False
    where: str | None = None
    title: str = ""
    kind: str = "model"


Block = TableBlock | SurvivalBlock | CumincBlock | ModelBlock


@dataclass(frozen=True)
class Plan:
    """A parsed, validated plan file."""

    study: StudySpec
    parameters: PlanParams
    blocks: tuple[Block, ...]
    source: str = ""
    text: str = field(default="", repr=False)


# --- validation helpers --------------------------------------------------------------------------


def _check_keys(where: str, table: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    if not isinstance(table, dict):
        raise _err(where, "must be a table")
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise _err(where, f"unknown key {unknown[0]!r}; keys are {', '.join(allowed)}")
    for k in required:
        if k not in table:
            raise _err(where, f"missing key {k!r}")


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _err(where, f"{key} must be non-empty text, got {value!r}")
    return value.strip()


def _column(where: str, key: str, value: Any, kinds: tuple[str, ...] | None = None) -> str:
    name = _text(where, key, value)
    if name not in COLUMNS_BY_NAME:
        raise _err(where, f"unknown column {name!r} in {key}; catalogue columns are {_listing(COLUMNS_BY_NAME)}")
    if kinds is not None and COLUMNS_BY_NAME[name].type not in kinds:
        ok = [c.name for c in COLUMNS_BY_NAME.values() if c.type in kinds]
        raise _err(where, f"{key} {name!r} is a {COLUMNS_BY_NAME[name].type} column; use one of {_listing(ok)}")
    return name


def _columns(where: str, key: str, value: Any, kinds: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _err(where, f"{key} must be a list of column names, got {value!r}")
    return tuple(_column(where, key, v, kinds) for v in value)


def _numbers(where: str, key: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise _err(where, f"{key} must be a list of numbers, got {value!r}")
    if any(v < 0 for v in value):
        raise _err(where, f"{key} must be >= 0")
    return tuple(float(v) for v in value)


#: Column types a grouping variable (``by``) or a covariate may have.
GROUPING_TYPES = ("flag", "code", "integer", "text")
COVARIATE_TYPES = ("flag", "code", "integer", "number", "text", "days")


def _level(where: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value) == int(value) else str(value)
    return _text(where, key, value)


def _endpoint(where: str, value: Any, kinds: str) -> str:
    name = _text(where, "endpoint", value)
    pool = TIME_TO_EVENT if kinds == "tte" else COMPETING
    if name not in pool:
        what = "time-to-event" if kinds == "tte" else "competing-risks"
        raise _err(where, f"unknown {what} endpoint {name!r}; endpoints are {_listing(pool)}")
    return name


def _block_where(where: str, t: dict[str, Any]) -> str | None:
    """A block's own ``where``: a subset of the plan population (validated now, run later)."""
    if "where" not in t:
        return None
    expr = _text(where, "where", t["where"])
    compile_where(expr, f"{where} where")
    return expr


def _survival(where: str, t: dict[str, Any]) -> SurvivalBlock:
    _check_keys(where, t, ("endpoint", "by", "reference", "landmarks_months", "adjust", "title", "where"), ("endpoint",))
    by = _column(where, "by", t["by"], GROUPING_TYPES) if "by" in t else None
    if "reference" in t and by is None:
        raise _err(where, "reference needs by")
    return SurvivalBlock(
        endpoint=_endpoint(where, t["endpoint"], "tte"), by=by, reference=_level(where, "reference", t.get("reference")),
        landmarks_months=_numbers(where, "landmarks_months", t.get("landmarks_months", [])),
        adjust=_columns(where, "adjust", t.get("adjust", []), COVARIATE_TYPES), title=str(t.get("title", "")),
        where=_block_where(where, t),
    )


def _cuminc(where: str, t: dict[str, Any]) -> CumincBlock:
    _check_keys(where, t, ("endpoint", "by", "times_months", "adjust", "reference", "title", "where"), ("endpoint",))
    by = _column(where, "by", t["by"], GROUPING_TYPES) if "by" in t else None
    return CumincBlock(
        endpoint=_endpoint(where, t["endpoint"], "cr"), by=by,
        times_months=_numbers(where, "times_months", t.get("times_months", [3, 6, 12])),
        adjust=_columns(where, "adjust", t.get("adjust", []), COVARIATE_TYPES),
        reference=_level(where, "reference", t.get("reference")), title=str(t.get("title", "")),
        where=_block_where(where, t),
    )


def _table(where: str, t: dict[str, Any]) -> TableBlock:
    _check_keys(where, t, ("by", "variables", "title", "where"), ("by", "variables"))
    return TableBlock(by=_column(where, "by", t["by"], GROUPING_TYPES),
                      variables=_columns(where, "variables", t["variables"], COVARIATE_TYPES),
                      title=str(t.get("title", "")), where=_block_where(where, t))


def _model(where: str, t: dict[str, Any]) -> ModelBlock:
    _check_keys(where, t, ("kind", "outcome", "covariates", "reference_levels", "firth", "title", "where"),
                ("kind", "outcome", "covariates"))
    kind = _text(where, "kind", t["kind"])
    if kind not in MODEL_KINDS:
        raise _err(where, f"unknown model kind {kind!r}; kinds are {', '.join(MODEL_KINDS)}")
    if kind == "logistic":
        outcome = _column(where, "outcome", t["outcome"], ("flag",))
    else:
        outcome = _endpoint(where, t["outcome"], "tte")
    covs = _columns(where, "covariates", t["covariates"], COVARIATE_TYPES)
    if not covs:
        raise _err(where, "covariates must name at least one column")
    refs = t.get("reference_levels", {})
    if not isinstance(refs, dict):
        raise _err(where, "reference_levels must be a table {column = level}")
    for k in refs:
        if k not in covs:
            raise _err(where, f"reference_levels names {k!r}, which is not a covariate; covariates are {', '.join(covs)}")
    if not isinstance(t.get("firth", False), bool):
        raise _err(where, "firth must be true or false")
    return ModelBlock(model=kind, outcome=outcome, covariates=covs,
                      reference_levels=tuple((k, _level(where, k, v) or "") for k, v in refs.items()),
                      firth=bool(t.get("firth", False)), title=str(t.get("title", "")), where=_block_where(where, t))


_BLOCK_PARSERS = {"table": _table, "survival": _survival, "cuminc": _cuminc, "model": _model}
_HEADER = re.compile(r"^\s*\[\[\s*(" + "|".join(BLOCK_KINDS) + r")\s*\]\]", re.MULTILINE)


def _params(where: str, t: Any, overrides: dict[str, Any] | None) -> PlanParams:
    values = dict(t or {})
    if not isinstance(values, dict):
        raise _err(where, "must be a table")
    unknown = [k for k in values if k not in PARAM_NAMES]
    if unknown:
        raise _err(where, f"unknown parameter {unknown[0]!r}; parameters are {', '.join(PARAM_NAMES)}")
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k not in PARAM_NAMES:
            raise _err("", f"parameter {k} does not apply to a plan; plan parameters are {', '.join(PARAM_NAMES)}")
        values[k] = v
    try:
        return PlanParams(**{k: _coerce(k, v) for k, v in values.items()})
    except CartregError as exc:
        raise _err(where, exc.message) from None


def parse_plan_text(text: str, source: str = "plan", overrides: dict[str, Any] | None = None) -> Plan:
    """Parse and validate a plan from TOML text (``source`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _err(source, f"not valid TOML: {exc}") from None
    top = ("study", "parameters", *BLOCK_KINDS)
    _check_keys(source, data, top, ("study",))
    st = data["study"]
    _check_keys(f"{source} [study]", st, ("name", "title", "population", "where", "description"), ("name",))
    name = _text(f"{source} [study]", "name", st["name"])
    population, where = st.get("population"), st.get("where")
    if population is not None and where is not None:
        raise _err(f"{source} [study]", "give population or where, not both")
    if population is None and where is None:
        population = "infused"
    if population is not None:
        population = _text(f"{source} [study]", "population", population)
        if population not in COHORT_FLAGS:
            raise _err(f"{source} [study]", f"unknown population {population!r}; cohort flags are {', '.join(COHORT_FLAGS)}")
    if where is not None:
        where = _text(f"{source} [study]", "where", where)
        compile_where(where, f"{source} [study] where")  # validated now, run later
    study = StudySpec(name=name, title=str(st.get("title", name)), population=population, where=where,
                      description=str(st.get("description", "")))
    params = _params(f"{source} [parameters]", data.get("parameters"), overrides)
    # blocks in document order: the TOML parser groups arrays of tables by name
    order = _HEADER.findall(text)
    counts = {k: len(data.get(k, [])) for k in BLOCK_KINDS}
    for k in BLOCK_KINDS:
        if k in data and not isinstance(data[k], list):
            raise _err(source, f"{k} must be written [[{k}]] (an array of tables)")
    if sorted(order) != sorted(k for k in BLOCK_KINDS for _ in range(counts[k])):
        order = [k for k in data if k in BLOCK_KINDS for _ in range(counts[k])]
    seen = {k: 0 for k in BLOCK_KINDS}
    blocks = []
    for i, kind in enumerate(order):
        t = data[kind][seen[kind]]
        seen[kind] += 1
        blocks.append(_BLOCK_PARSERS[kind](f"{source} [[{kind}]] #{seen[kind]}", t))
    if not blocks:
        raise _err(source, f"no blocks: add at least one of {', '.join(f'[[{k}]]' for k in BLOCK_KINDS)}")
    return Plan(study=study, parameters=params, blocks=tuple(blocks), source=source, text=text)


def parse_plan(path: str | Path, overrides: dict[str, Any] | None = None) -> Plan:
    """Parse and validate the plan file at ``path``; a relative ``class_map`` is read next to it."""
    p = Path(path)
    if not p.is_file():
        raise _err("", f"plan file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _err(str(p), "not UTF-8 text") from None
    plan = parse_plan_text(text, source=p.name, overrides=overrides)
    cm = plan.parameters.class_map
    if cm is not None and not Path(cm).is_absolute() and not (overrides or {}).get("class_map"):
        plan = dataclasses.replace(plan, parameters=dataclasses.replace(plan.parameters, class_map=str(p.parent / cm)))
    return plan


# --- the where filter --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*'|\"(?:[^\"])*\")|(?P<op><=|>=|!=|<>|==|=|<|>)"
    r"|(?P<paren>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"and", "or", "not", "is", "null", "in", "true", "false"}


def _tokens(expr: str, where: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise _err(where, f"cannot read {expr[pos:].strip()[:20]!r} in {expr!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _WhereCompiler:
    """Recursive descent over: or / and / not / comparison (=, !=, <, <=, >, >=, is [not] null, [not] in (...))."""

    def __init__(self, expr: str, where: str) -> None:
        self.toks = _tokens(expr, where)
        self.i = 0
        self.where = where
        self.params: dict[str, Any] = {}

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def word(self, w: str) -> bool:
        t = self.peek()
        if t and t[0] == "word" and t[1].lower() == w:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        t = self.peek()
        if t is None or t[0] != kind or (value is not None and t[1] != value):
            got = "the end" if t is None else repr(t[1])
            raise _err(self.where, f"expected {value or kind}, got {got}")
        self.i += 1
        return t[1]

    def bind(self, value: Any) -> str:
        key = f"w{len(self.params)}"
        self.params[key] = value
        return f"${key}"

    def parse(self) -> str:
        sql = self.or_()
        if self.peek() is not None:
            raise _err(self.where, f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return sql

    def or_(self) -> str:
        parts = [self.and_()]
        while self.word("or"):
            parts.append(self.and_())
        return " OR ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]

    def and_(self) -> str:
        parts = [self.not_()]
        while self.word("and"):
            parts.append(self.not_())
        return " AND ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]

    def not_(self) -> str:
        if self.word("not"):
            return f"NOT ({self.not_()})"
        return self.comparison()

    def operand(self) -> tuple[str, str | None, Any]:
        """(sql, column name or None, literal value or None)."""
        t = self.peek()
        if t is None:
            raise _err(self.where, "unexpected end of the expression")
        kind, text = t
        if kind == "paren" and text == "(":
            self.i += 1
            inner = self.or_()
            self.expect("paren", ")")
            return f"({inner})", None, None
        self.i += 1
        if kind == "num":
            v = float(text) if "." in text else int(text)
            return self.bind(v), None, v
        if kind == "str":
            v = text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
            return self.bind(v), None, v
        if kind == "word":
            low = text.lower()
            if low in ("true", "false"):
                return ("true" if low == "true" else "false"), None, low == "true"
            if low in _KEYWORDS:
                raise _err(self.where, f"unexpected {text!r}")
            if text not in COLUMNS_BY_NAME:
                raise _err(self.where, f"unknown column {text!r}; catalogue columns are {_listing(COLUMNS_BY_NAME)}")
            return f'"{text}"', text, None
        raise _err(self.where, f"unexpected {text!r}")

    def check_level(self, column: str | None, value: Any) -> None:
        if column is None or not isinstance(value, str):
            return
        levels = COLUMNS_BY_NAME[column].levels
        if levels and value not in levels:
            raise _err(self.where, f"unknown level {value!r} of {column}; levels are {', '.join(levels)}")

    def comparison(self) -> str:
        left, col, lit = self.operand()
        t = self.peek()
        if t and t[0] == "op":
            self.i += 1
            op = {"==": "=", "!=": "<>"}.get(t[1], t[1])
            right, rcol, rlit = self.operand()
            self.check_level(col, rlit)
            self.check_level(rcol, lit)
            return f"{left} {op} {right}"
        if self.word("is"):
            neg = self.word("not")
            if not self.word("null"):
                raise _err(self.where, "expected null after is")
            return f"{left} IS {'NOT ' if neg else ''}NULL"
        neg = False
        if t and t[0] == "word" and t[1].lower() == "not" and self.i + 1 < len(self.toks) \
                and self.toks[self.i + 1][1].lower() == "in":
            self.i += 1
            neg = True
        if self.word("in"):
            self.expect("paren", "(")
            items = []
            while True:
                sql, _, v = self.operand()
                if v is None:
                    raise _err(self.where, "in (...) takes literal values only")
                self.check_level(col, v)
                items.append(sql)
                if self.peek() == ("paren", ","):
                    self.i += 1
                    continue
                self.expect("paren", ")")
                break
            return f"{left} {'NOT ' if neg else ''}IN ({', '.join(items)})"
        return left


def compile_where(expr: str, where: str = "where") -> tuple[str, dict[str, Any]]:
    """Compile a ``where`` filter into (DuckDB SQL, bound parameters).

    Grammar: ``or``/``and``/``not``, parentheses, comparisons ``= == != <> < <= > >=`` between catalogue
    columns and literals (numbers, 'text', true, false), ``x is [not] null``, ``x [not] in ('a', 'b')``;
    a bare column is a condition (a flag). Missing values follow SQL: a comparison with a missing
    value is neither true nor false, so the row is left out.

    >>> compile_where("age >= 70 or histology in ('tFL', 'tMZL')")
    ('("age" >= $w0) OR ("histology" IN ($w1, $w2))', {'w0': 70, 'w1': 'tFL', 'w2': 'tMZL'})
    """
    if not expr or not expr.strip():
        raise _err(where, "empty expression")
    c = _WhereCompiler(expr, where)
    return c.parse(), c.params


__all__ = ["PlanInputError", "BLOCK_KINDS", "Block", "CumincBlock", "ModelBlock", "Plan", "PlanParams", "StudySpec", "SurvivalBlock",
           "TableBlock", "compile_where", "parse_plan", "parse_plan_text"]
