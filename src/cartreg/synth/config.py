"""Generator parameters: the documented TOML config (``cartreg/data/synth_default.toml``).

A user config holds only the keys it changes; it is merged over the defaults table by table
(:func:`merge`). :func:`load_config` validates the result and raises
:class:`~cartreg.errors.CartregError` with the offending key for any problem.

Example::

    >>> from cartreg.synth.config import load_config
    >>> cfg = load_config()                       # the calibrated defaults
    >>> cfg["registry"]["cutoff"]
    '2022-04-29'
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from cartreg.errors import CartregError

#: Post-failure treatment classes, exactly the results.json class keys.
CLASSES: tuple[str, ...] = ("chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy", "other")
COURSES: tuple[str, ...] = ("none", "early", "late")
HISTOLOGIES: tuple[str, ...] = ("DLBCL", "PMBL", "HGBCL", "tFL", "tMZL", "PCNSL", "GZL", "RICHTER", "OTHER")
BRIDGING: tuple[str, ...] = ("none", "chemotherapy", "radiotherapy", "combined", "other")
PRODUCTS: tuple[str, ...] = ("axi-cel", "tisa-cel", "missing")


def default_text() -> str:
    """The default config file's text (with its comments)."""
    return resources.files("cartreg.data").joinpath("synth_default.toml").read_text(encoding="utf-8")


def merge(base: dict, override: dict) -> dict:
    """Deep merge: tables merge key by key, any other value replaces the default."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Load the defaults, merge the TOML file at ``path`` over them, validate, return a dict."""
    cfg = tomllib.loads(default_text())
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CartregError(f"synth config not found: {p}")
        try:
            user = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CartregError(f"synth config {p} is not valid TOML: {exc}") from None
        check_known_keys(user, cfg)
        cfg = merge(cfg, user)
    validate_config(cfg)
    return cfg


def _free_map(path: str, default: dict) -> bool:
    """Tables whose keys are data, not parameter names: regimen texts, and numeric-keyed distributions."""
    return path.startswith("regimens.") or (bool(default) and all(str(k).lstrip("-").isdigit() for k in default))


def check_known_keys(user: dict, default: dict, path: str = "") -> None:
    """Reject a key the default config does not have (a misspelt key would otherwise be ignored).

    Regimen tables (``[regimens.<class>]``) and numeric-keyed distributions (``ecog = {0 = ...}``)
    take any key; their values are checked by :func:`validate_config`.
    """
    import difflib

    for key, value in user.items():
        name = f"{path}.{key}" if path else str(key)
        if key not in default:
            if _free_map(path, default):
                continue
            hint = difflib.get_close_matches(str(key), [str(k) for k in default], n=1)
            _fail(name, "unknown key" + (f"; did you mean {hint[0]!r}?" if hint else "")
                  + (f" (known: {', '.join(map(str, default))})" if len(default) <= 12 else ""))
        elif isinstance(value, dict) and isinstance(default[key], dict) and not _free_map(name, default[key]):
            check_known_keys(value, default[key], name)


def _fail(key: str, msg: str) -> None:
    raise CartregError(f"synth config: {key}: {msg}")


def _prob(key: str, v: Any) -> None:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
        _fail(key, f"must be a probability in [0, 1], got {v!r}")


def _dist(key: str, table: Any, allowed: tuple[str, ...] | None = None) -> None:
    if not isinstance(table, dict) or not table:
        _fail(key, "must be a table of named probabilities")
    for k, v in table.items():
        if allowed is not None and k not in allowed:
            _fail(f"{key}.{k}", f"unknown name (allowed: {', '.join(allowed)})")
        _prob(f"{key}.{k}", v)
    total = sum(float(v) for v in table.values())
    if abs(total - 1.0) > 1e-6:
        _fail(key, f"probabilities sum to {total:.6f}, not 1")


def _hazards(key: str, v: Any, n: int) -> None:
    if not isinstance(v, list) or len(v) != n or any(not isinstance(x, (int, float)) or x < 0 for x in v):
        _fail(key, f"must be a list of {n} non-negative hazards per month")


def _date(key: str, v: Any) -> dt.date:
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        _fail(key, f"must be a date YYYY-MM-DD, got {v!r}")
    raise AssertionError  # unreachable


def baseline_for(cfg: dict, course: str) -> dict:
    """The baseline table of a course: ``baseline.late`` overlaid with ``baseline.<course>``."""
    base = cfg["baseline"]["late"]
    return base if course == "late" else merge(base, cfg["baseline"].get(course, {}))


def validate_config(cfg: dict) -> None:
    """Check every value the generator uses; raise CartregError naming the first bad key."""
    try:
        reg = cfg["registry"]
        start = _date("registry.accrual_start", reg["accrual_start"])
        cutoff = _date("registry.cutoff", reg["cutoff"])
        if (cutoff - start).days < 60 + int(reg["accrual_end_lag_days"]):
            _fail("registry", "accrual_start must be well before cutoff")
        _prob("registry.p_not_infused", reg["p_not_infused"])
        if int(reg["n_centers"]) < 1:
            _fail("registry.n_centers", "must be >= 1")
        _dist("products", cfg["products"], PRODUCTS)
        course = cfg["course"]
        for k in ("p_early", "p_late"):
            _prob(f"course.{k}", course[k])
        if course["p_early"] + course["p_late"] > 1:
            _fail("course", "p_early + p_late must be <= 1")
        if not 1 <= course["early_min_days"] <= course["early_max_days"] <= 91:
            _fail("course", "need 1 <= early_min_days <= early_max_days <= 91")
        if course["late_min_days"] < 92 or course["late_max_days"] <= course["late_min_days"]:
            _fail("course", "need 92 <= late_min_days < late_max_days")
        nrm = cfg["nrm"]
        _hazards("nrm.hazard", nrm["hazard"], len(nrm["breaks_months"]))
        for c in COURSES:
            b = baseline_for(cfg, c)
            key = f"baseline.{c}"
            for k in ("male", "stage_3_4", "aaipi_2_3", "prior_auto_hsct", "prior_allo_hsct", "ldh_elevated", "bulky",
                      "p_stage_4_given_3_4", "p_stage_2_given_1_2", "p_aaipi_3_given_2_3", "p_aaipi_1_given_0_1"):
                _prob(f"{key}.{k}", b[k])
            if b["prior_auto_hsct"] + b["prior_allo_hsct"] > 1:
                _fail(key, "prior_auto_hsct + prior_allo_hsct must be <= 1")
            _dist(f"{key}.histology", b["histology"], HISTOLOGIES)
            _dist(f"{key}.bridging", b["bridging"], BRIDGING)
            _dist(f"{key}.ecog", b["ecog"], ("0", "1", "2", "3", "4"))
            _dist(f"{key}.prior_lines", b["prior_lines"])
            if any(int(k) < 1 for k in b["prior_lines"]):
                _fail(f"{key}.prior_lines", "lines must be >= 1")
            q = b["age_quantiles"]
            ps = [float(x[0]) for x in q]
            ages = [float(x[1]) for x in q]
            if ps[0] != 0.0 or ps[-1] != 1.0 or any(a >= b_ for a, b_ in zip(ps, ps[1:])) or any(
                a > b_ for a, b_ in zip(ages, ages[1:])) or ages[0] < 0 or ages[-1] > 120:
                _fail(f"{key}.age_quantiles", "need increasing [p, age] pairs from p=0 to p=1, ages 0-120")
            for k in ("ferritin_median", "crp_median", "ferritin_sdlog", "crp_sdlog"):
                if not b[k] > 0:
                    _fail(f"{key}.{k}", "must be > 0")
            _dist(f"car_t_response.{c}", cfg["car_t_response"][c], ("cmr", "pmr", "nmr", "ne"))
        for k, v in cfg["missing"].items():
            _prob(f"missing.{k}", v)
        for prod in ("axi-cel", "tisa-cel"):
            for t in ("crs", "icans"):
                _dist(f"toxicity.{prod}.{t}", cfg["toxicity"][prod][t], ("0", "1", "2", "3", "4"))
        vis = cfg["visits"]
        if len(vis["days"]) != len(vis["jitter_days"]) or sorted(vis["days"]) != list(vis["days"]):
            _fail("visits", "days must be increasing and match jitter_days")
        if vis["days"][0] - vis["jitter_days"][0] < 1:
            _fail("visits", "the first visit must fall after the infusion day")
        for k in ("p_missed", "p_first_cmr_late", "p_ct_codes"):
            _prob(f"visits.{k}", vis[k])
        for c in ("late", "early"):
            _dist(f"post_failure.{c}", {k: v for k, v in cfg["post_failure"][c].items()}, CLASSES + ("untreated",))
        pf = cfg["post_failure"]
        for k in ("p_gap_zero", "p_same_day_second_regimen", "p_next_line_after_progression",
                  "p_assessment_at_last_contact", "p_failure_recorded_after_start", "p_radiotherapy_bridging_before"):
            _prob(f"post_failure.{k}", pf[k])
        if isinstance(pf["max_assessments"], bool) or not isinstance(pf["max_assessments"], int) \
                or not 0 <= pf["max_assessments"] <= 100:
            _fail("post_failure.max_assessments", "must be a whole number from 0 to 100")
        pr = cfg["post_response"]
        for k in CLASSES:
            _prob(f"post_response.p_response.{k}", pr["p_response"][k])
        _prob("post_response.p_cmr_given_response", pr["p_cmr_given_response"])
        nb = len(cfg["hazards"]["breaks_months"])
        for k in CLASSES + ("untreated",):
            _hazards(f"hazards.death.{k}", cfg["hazards"]["death"][k], nb)
        for k in CLASSES:
            _hazards(f"hazards.progression.{k}", cfg["hazards"]["progression"][k], nb)
        _dist("death_cause_after_failure", cfg["death_cause_after_failure"], ("lymphoma", "infection", "other"))
        for k in CLASSES + ("with_radiotherapy", "with_bispecific"):
            table = cfg["regimens"][k]
            if not table or any(not isinstance(t, str) or not t.strip() for t in table):
                _fail(f"regimens.{k}", "needs at least one non-empty regimen text")
            if any(not isinstance(w, (int, float)) or w < 0 for w in table.values()) or sum(table.values()) <= 0:
                _fail(f"regimens.{k}", "weights must be >= 0 with a positive sum")
    except KeyError as exc:
        raise CartregError(f"synth config: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CartregError(f"synth config: bad value: {exc}") from None
