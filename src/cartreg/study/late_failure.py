"""The late-failure study of the founding abstract (DESCAR-T, failures > 3 months after CAR T).

A plan: derive the endpoints (:mod:`cartreg.endpoints`), then compose summary blocks
(:mod:`cartreg.study.blocks`) into the results dictionary documented in ``docs/results.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.endpoints import CLASSES, DAYS_PER_MONTH, NOT_TREATMENT, Endpoints, derive_endpoints, load_class_map
from cartreg.endpoints.derive import AFTER_CUTOFF_KEYS
from cartreg.study import blocks as b
from cartreg.study.output import prefetch_csv
from cartreg.study.params import LateFailureParams

HISTOLOGIES = ("DLBCL", "PMBL", "HGBCL", "tFL", "tMZL", "PCNSL", "GZL", "RICHTER", "OTHER")
PRODUCTS = ("axi-cel", "tisa-cel", "liso-cel", "brexu-cel", "other")

#: Units of the continuous baseline variables (results.json ``unit`` beside each; docs/data-format.md).
UNITS = {"age": "years", "prior_lines": "lines", "ferritin": "\u00b5g/l", "crp": "mg/dl"}


class Columns:
    """Typed NumPy views of the per-patient endpoint table (NULL -> NaN, None or a validity mask).

    Each column is converted once and cached; the arrays are read-only (a plan that needs to change
    one works on a copy). Text columns are converted through Arrow dictionary encoding, so a column
    of a few distinct values costs one small Python list and an integer take, not one Python string
    per row.
    """

    def __init__(self, table: pa.Table) -> None:
        self.t = table
        self.n = table.num_rows
        self._cache: dict[tuple[str, str], Any] = {}

    def has(self, name: str) -> bool:
        return name in self.t.column_names

    def _cached(self, kind: str, name: str, make) -> Any:
        key = (kind, name)
        if key not in self._cache:
            value = make()
            for a in value if isinstance(value, tuple) else (value,):
                if isinstance(a, np.ndarray):
                    a.flags.writeable = False
            self._cache[key] = value
        return self._cache[key]

    def num(self, name: str) -> np.ndarray:
        """Numbers as float (NaN = missing); a missing column is all NaN."""
        if not self.has(name):
            return np.full(self.n, np.nan)
        def make() -> np.ndarray:
            values, valid = _numpy(_one_chunk(self.t.column(name).cast(pa.float64())))
            return values if valid is None else np.where(valid, values, np.nan)

        return self._cached("num", name, make)

    def text(self, name: str) -> np.ndarray:
        """Text as an object array (None = missing)."""
        if not self.has(name):
            return np.full(self.n, None, dtype=object)
        return self._cached("text", name, lambda: self._text_from_codes(name))

    def _text_from_codes(self, name: str) -> np.ndarray:
        codes, levels = self._cached("codes", name, lambda: _text_codes(self.t.column(name)))
        if levels is None:
            return np.asarray(self.t.column(name).to_numpy(zero_copy_only=False), dtype=object)
        return np.array(levels + [None], dtype=object)[codes]

    def eq(self, name: str, value: str | None) -> np.ndarray:
        """``text(name) == value`` (``None``: missing), compared on dictionary codes, not strings."""
        if not self.has(name):
            return np.full(self.n, value is None)
        codes, levels = self._cached("codes", name, lambda: _text_codes(self.t.column(name)))
        if levels is None:  # not a text column: compare the objects
            text = self.text(name)
            return np.equal(text, None) if value is None else text == value
        if value is None:
            return codes == len(levels)
        return codes == levels.index(value) if value in levels else np.zeros(self.n, bool)

    def isin(self, name: str, values: tuple[str, ...]) -> np.ndarray:
        """``np.isin(text(name), values)`` for text values."""
        out = np.zeros(self.n, bool)
        for v in values:
            out |= self.eq(name, v)
        return out

    def flag(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A boolean column as (value with NULL -> False, valid mask)."""
        if not self.has(name):
            return np.zeros(self.n, bool), np.zeros(self.n, bool)

        def make() -> tuple[np.ndarray, np.ndarray]:
            values, valid = _numpy(_one_chunk(self.t.column(name)))
            if valid is None:
                return values.astype(bool), np.ones(self.n, bool)
            return values.astype(bool) & valid, valid

        return self._cached("flag", name, make)


def _text_codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str] | None]:
    """(codes, levels) of a text column: ``levels[code]``, or missing where ``code == len(levels)``.

    ``levels`` is None for a column that is not text (or empty): callers then use the objects.
    """
    arr = col.combine_chunks() if col.num_chunks else None
    if arr is None or len(arr) == 0 or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.zeros(len(col), np.int64), None
    enc = pc.dictionary_encode(arr)
    levels = enc.dictionary.to_pylist()
    codes, valid = _numpy(enc.indices)
    codes = codes.astype(np.int64)
    if valid is not None:
        codes[~valid] = len(levels)
    return codes, levels


def _one_chunk(col: pa.ChunkedArray) -> pa.Array:
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


_NUMPY_TYPES = {pa.float64(): np.float64, pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
                pa.int64(): np.int64, pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32,
                pa.uint64(): np.uint64}


def _numpy(arr: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, validity mask or None when nothing is missing) of a boolean or numeric Arrow array.

    Read from the Arrow buffers with ``np.frombuffer``: ``Array.to_numpy`` would do the same, but
    first makes pyarrow import pandas when it is installed (0.4-0.6 s per process). Values under a
    missing entry are unspecified; callers mask them.
    """
    n, off = len(arr), arr.offset
    if n == 0:
        return np.zeros(0, bool if pa.types.is_boolean(arr.type) else _NUMPY_TYPES[arr.type]), None
    bufs = arr.buffers()

    def bits(buf) -> np.ndarray:
        return np.unpackbits(np.frombuffer(buf, np.uint8), count=off + n, bitorder="little")[off:].astype(bool)

    valid = bits(bufs[0]) if arr.null_count and bufs[0] is not None else None
    if pa.types.is_boolean(arr.type):
        return bits(bufs[1]), valid
    return np.frombuffer(bufs[1], _NUMPY_TYPES[arr.type], count=off + n)[off:], valid


def baseline(c: Columns, m: np.ndarray) -> dict[str, Any]:
    """Baseline characteristics of the patients in mask ``m`` (N excludes missing values)."""
    age = c.num("age")[m]
    sex = c.text("sex")[m]
    stage, aaipi, ecog = c.num("stage")[m], c.num("aaipi")[m], c.num("ecog")[m]
    auto, auto_ok = (a[m] for a in c.flag("prior_auto_hsct"))
    allo, allo_ok = (a[m] for a in c.flag("prior_allo_hsct"))
    ldh, ldh_ok = (a[m] for a in c.flag("ldh_elevated"))
    bulky, bulky_ok = (a[m] for a in c.flag("bulky"))
    bridging = c.text("bridging")[m]
    bridging_ok = bridging != None  # noqa: E711 - elementwise on an object array
    bridged = bridging_ok & (bridging != "none")
    crs, icans = c.num("crs_grade")[m], c.num("icans_grade")[m]
    return {
        "n": int(m.sum()),
        "age": b.distribution(age, quartiles=True) | {"unit": UNITS["age"]},
        "age_gt_65": b.count(age > 65, ~np.isnan(age)),
        "male": b.count(sex == "M", sex != None),  # noqa: E711
        "histology": b.categories(c.text("histology")[m], HISTOLOGIES),
        "stage_3_4": b.count(stage >= 3, ~np.isnan(stage)),
        "aaipi_2_3": b.count(aaipi >= 2, ~np.isnan(aaipi)),
        "prior_lines": b.distribution(c.num("prior_lines")[m]) | {"unit": UNITS["prior_lines"]},
        # yes if auto or allo is yes; no if both are no; missing otherwise
        "prior_hsct": b.count(auto | allo, (auto_ok & allo_ok) | auto | allo),
        "prior_auto_hsct": b.count(auto, auto_ok),
        "prior_allo_hsct": b.count(allo, allo_ok),
        "ecog_ge_2": b.count(ecog >= 2, ~np.isnan(ecog)),
        "ecog_gt_2": b.count(ecog > 2, ~np.isnan(ecog)),
        "ldh_elevated": b.count(ldh, ldh_ok),
        "bulky": b.count(bulky, bulky_ok),
        "ferritin": b.distribution(c.num("ferritin_ug_l")[m]) | {"unit": UNITS["ferritin"]},
        "crp": b.distribution(c.num("crp_mg_dl")[m]) | {"unit": UNITS["crp"]},
        "bridging": b.count(bridged, bridging_ok),
        # chemotherapy-based bridging, over the bridged patients
        "bridging_chemo": b.count(np.isin(bridging, ["chemotherapy", "combined"]), bridged),
        "crs_ge_3": b.count(crs >= 3, ~np.isnan(crs)),
        "icans_ge_3": b.count(icans >= 3, ~np.isnan(icans)),
        "products": b.categories(c.text("product")[m], PRODUCTS),
    }


def _value_counts(values: np.ndarray) -> dict[str, int]:
    """``{text: n}`` of the non-missing values, most frequent first, then alphabetical."""
    v = np.asarray(values, dtype=object)
    v = v[v != None]  # noqa: E711
    counts: Counter[str] = Counter()
    for value, n in Counter(v.tolist()).items():  # hashing, not sorting, the rows
        counts[str(value)] += n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def toxicity(c: Columns, groups: dict[str, np.ndarray]) -> dict[str, Any]:
    """CRS and ICANS grade distributions (0-5, and grade >= 3) per group of patients (mask)."""
    return {key: {g: b.grades(c.num(col)[m]) for g, m in groups.items()}
            for key, col in (("crs_grade", "crs_grade"), ("icans_grade", "icans_grade"))}


def compared_classes(n_by_class: dict[str, int], min_class_size: int) -> tuple[list[str], dict[str, str]]:
    """Rule 7 (docs/endpoints.md): the classes compared (Cox, log-rank, forest plot) and, for the
    others with patients, why not. ``min_class_size = 1`` compares every class, ``other`` included."""
    compared, left_out = [], {}
    for cls, n in n_by_class.items():
        if n == 0:
            continue
        if cls == "other" and min_class_size > 1:
            left_out[cls] = "a mixture of unrelated treatments: described, not compared"
        elif n < min_class_size:
            left_out[cls] = f"{n} treated patient(s), fewer than min_class_size = {min_class_size}: described, not compared"
        else:
            compared.append(cls)
    return compared, left_out


#: What each ``ignored_records.after_cutoff`` count is, in its warning.
AFTER_CUTOFF_WHAT = {"responses": "assessment(s) dated after the cut-off ignored",
                     "treatments": "treatment(s) dated after the cut-off ignored",
                     "deaths": "death(s) after the cut-off ignored (censored at the cut-off)",
                     "last_contacts_truncated": "last contact(s) after the cut-off moved back to it",
                     "registered_after_cutoff": "patient(s) registered after the cut-off left out of the cohort",
                     "infused_after_cutoff": "patient(s) infused after the cut-off left out of the cohort"}


def classes_of_study(class_map, reference_class: str) -> tuple[str, ...]:
    """The classes the study reports (``by_class``): those the class table can give, and the reference."""
    return tuple(cl for cl in CLASSES if cl in class_map.classes or cl == reference_class)


def run(con, params: LateFailureParams, data_cutoff: dt.date | None = None) -> tuple[dict[str, Any], Endpoints]:
    """Derive endpoints on ``con`` and compute every figure of the late-failure study.

    ``data_cutoff``: the data freeze (records after it are ignored, follow-up ends at it).
    """
    rules = dataclasses.replace(params.rules(), data_cutoff=data_cutoff)
    class_map = load_class_map(params.class_map)
    ep = derive_endpoints(con, rules, class_map)
    study_classes = classes_of_study(class_map, params.reference_class)
    prefetch_csv(ep.patients)  # patients.csv is formatted on a worker thread while the statistics run
    c = Columns(ep.patients)
    ct, cl = params.conf_type, params.conf_level
    failed, _ = c.flag("failed")
    late, _ = c.flag("late")
    early = failed & ~late
    ttf = c.num("ttf_days")
    by_lymphoma_death = c.flag("failure_by_lymphoma_death")[0] & failed
    infused = c.n

    cif_days, cif_status = c.num("cif_days"), c.num("cif_status").astype(int)
    cif_fit = b.cif_fit(cif_days, cif_status) if infused else None  # one Aalen-Johansen fit for both blocks
    failures = {
        "n": int(failed.sum()),
        "pct": b.pct(int(failed.sum()), infused),
        "relapse": {"n": int(c.eq("failure_type", "relapse").sum())},
        "progression": {"n": int(c.eq("failure_type", "progression").sum())},
        # failures found as a death from lymphoma without a recorded progression (counted as progression)
        "lymphoma_death": {"n": int(by_lymphoma_death.sum())},
        "early": {"n": int(early.sum()), "pct": b.pct(int(early.sum()), int(failed.sum()))},
        "late": {"n": int(late.sum()), "pct": b.pct(int(late.sum()), int(failed.sum()))},
        "cif": b.cif_at(cif_days, cif_status, params.cif_months, fit=cif_fit) if infused else [],
        "cif_curve": b.cif_curve(cif_days, cif_status, fit=cif_fit) if infused else None,
        "sensitivity": [
            {
                "late_after_days": float(d),
                "late_n": int((failed & (ttf > d)).sum()),
                "late_pct": b.pct(int((failed & (ttf > d)).sum()), int(failed.sum())),
            }
            for d in params.sensitivity_days
        ],
        "time_to_failure": b.distribution(ttf[failed] / DAYS_PER_MONTH),
    }
    if failures["cif_curve"] is not None:
        failures["cif_curve"]["risk_table"] = b.cif_risk_table(cif_days, cif_status, params.risk_table_step_months)

    treated = late & c.eq("tx_status", "treated")
    tx_class = c.text("tx_class")
    pfs2_days, pfs2_event = c.num("pfs2_days"), c.flag("pfs2_event")[0]
    os2_days, os2_event = c.num("os2_days"), c.flag("os2_event")[0]
    os2t_days, os2t_event = c.num("os2_treated_days"), c.flag("os2_treated_event")[0]
    n_late, n_treated = int(late.sum()), int(treated.sum())
    landmark_days = params.landmark_months * DAYS_PER_MONTH

    def share(mask: np.ndarray, among: np.ndarray) -> dict[str, Any]:
        n, N = int((mask & among).sum()), int(among.sum())
        return {"n": n, "N": N, "pct": b.pct(n, N)}

    n_by_class = {cls: int((treated & c.eq("tx_class", cls)).sum()) for cls in study_classes}
    compared, left_out = compared_classes(n_by_class, params.min_class_size)
    cmp_mask = treated & c.isin("tx_class", tuple(compared))
    if params.reference_class in left_out:  # no reference to compare with
        note = (f"reference class {params.reference_class!r} is not compared "
                f"({left_out[params.reference_class]}): no hazard ratios")
        pfs2_hr, pfs2_notes, pfs2_ph = {}, [note], None
        os2_hr, os2_notes, os2_ph = {}, [note], None
    else:
        pfs2_hr, pfs2_notes, pfs2_ph = b.cox_with_ph(
            pfs2_days[cmp_mask], pfs2_event[cmp_mask], tx_class[cmp_mask], params.reference_class, cl,
            flag_imprecise=True,
        )
        os2_hr, os2_notes, os2_ph = b.cox_with_ph(
            os2t_days[cmp_mask], os2t_event[cmp_mask], tx_class[cmp_mask], params.reference_class, cl,
            flag_imprecise=True,
        )
    by_class: dict[str, Any] = {}
    curves_pfs2: dict[str, Any] = {}
    curves_os2: dict[str, Any] = {}
    step = params.risk_table_step_months
    for cls in study_classes:
        m = treated & c.eq("tx_class", cls)
        is_ref = cls == params.reference_class
        by_class[cls] = {
            "n": int(m.sum()),
            "events_pfs2": int(pfs2_event[m].sum()),
            "events_os2": int(os2t_event[m].sum()),
            "gap_days_median": b.num(np.median(c.num("tx_gap_days")[m])) if m.any() else None,
            "pfs2_6mo": b.landmark(pfs2_days[m], pfs2_event[m], landmark_days, ct, cl),
            "os2_6mo": b.landmark(os2t_days[m], os2t_event[m], landmark_days, ct, cl),
            "pfs2_hr": None if is_ref else pfs2_hr.get(cls),
            "os2_hr": None if is_ref else os2_hr.get(cls),
            "reference": is_ref,
            "compared": cls in compared,
            "pfs2": b.km_summary(pfs2_days[m], pfs2_event[m], ct, cl),
            "os2": b.km_summary(os2t_days[m], os2t_event[m], ct, cl),
            "regimens": _value_counts(c.text("tx_regimen")[m]),
        }
        if m.any():
            curves_pfs2[cls] = b.km_curve(pfs2_days[m], pfs2_event[m], ct, cl, step)
            curves_os2[cls] = b.km_curve(os2t_days[m], os2t_event[m], ct, cl, step)

    late_out = {
        "n": n_late,
        "baseline": baseline(c, late),
        "best_response": {
            "orr": share(c.isin("best_response", ("CR", "PR")), late),
            "cmr": share(c.eq("best_response", "CR"), late),
            "categories": {k: share(c.eq("best_response", k), late) for k in ("CR", "PR", "SD", "NE")}
            | {"none": share(c.eq("best_response", None), late)},
        },
        "time_to_failure": b.distribution(ttf[late] / DAYS_PER_MONTH),
        "first_treatment": {
            "treated": share(c.eq("tx_status", "treated"), late),
            "untreated": share(c.eq("tx_status", "untreated"), late),
            "unknown": share(c.eq("tx_status", "unknown"), late),
            "classes": {cls: share(c.eq("tx_class", cls), treated) for cls in study_classes},
            "regimens": {cls: by_class[cls]["regimens"] for cls in study_classes},
            "gap_days": b.distribution(c.num("tx_gap_days")[treated]),
        },
        # a treatment after infusion that does not qualify as post-failure (consolidation, maintenance)
        "pre_failure_treatment": share(c.flag("pre_failure_treatment")[0], late)
        | {"regimens": _value_counts(c.text("pre_failure_regimens")[late])},
        "post_failure_response": {
            "orr": share(c.isin("post_best_response", ("CR", "PR")), treated),
            "cmr": share(c.eq("post_best_response", "CR"), treated),
        },
        "followup": b.followup(os2_days[late], os2_event[late], ct, cl),
        "os2": b.km_summary(os2_days[late], os2_event[late], ct, cl),
        "pfs2": b.km_summary(pfs2_days[treated], pfs2_event[treated], ct, cl),
        "by_class": by_class,
        "curves": {
            "pfs2": {"overall": b.km_curve(pfs2_days[treated], pfs2_event[treated], ct, cl, step),
                     "by_class": curves_pfs2},
            "os2": {"overall": b.km_curve(os2_days[late], os2_event[late], ct, cl, step),
                    "by_class": curves_os2},
        },
        "logrank": {
            "pfs2": b.logrank(pfs2_days[cmp_mask], pfs2_event[cmp_mask], tx_class[cmp_mask]) if cmp_mask.any() else None,
            "os2": b.logrank(os2t_days[cmp_mask], os2t_event[cmp_mask], tx_class[cmp_mask]) if cmp_mask.any() else None,
        },
        "hr_notes": {"pfs2": pfs2_notes, "os2": os2_notes},
        "comparisons": {"min_class_size": params.min_class_size, "compared": compared, "not_compared": left_out,
                        "imprecise_events": b.IMPRECISE_EVENTS},
        "ph_test": {"pfs2": pfs2_ph, "os2": os2_ph},
    }

    warnings: list[dict[str, Any]] = []
    for text, n in ep.unmapped_regimens:
        warnings.append({"kind": "unmapped_regimen", "regimen": text, "n_rows": n,
                         "message": f"regimen {text!r} matched no treatment class: counted as 'other'"})
    for r in ep.regimens.to_pylist():
        if r["class"] == NOT_TREATMENT:
            warnings.append({"kind": "not_treatment", "regimen": r["regimen"], "n_rows": r["n_rows"],
                             "message": f"regimen {r['regimen']!r} is not an anticancer treatment (class none): "
                                        "ignored; a patient with only such entries after failure is untreated"})
    for cls, why in left_out.items():
        warnings.append({"kind": "class_not_compared", "class": cls, "message": f"class {cls!r}: {why}"})
    for key, n in ep.ignored.items():
        if n:
            warnings.append({"kind": "ignored_records", "what": key, "n": n,
                             "message": f"{n} record(s) ignored: {key.replace('_', ' ')}"})
    after_cutoff = ep.after_cutoff
    if after_cutoff is not None:
        what = AFTER_CUTOFF_WHAT
        for key in AFTER_CUTOFF_KEYS:
            if after_cutoff[key]:
                warnings.append({"kind": "after_cutoff", "what": key, "n": after_cutoff[key],
                                 "message": f"data cut-off {data_cutoff.isoformat()}: {after_cutoff[key]} {what[key]}"})
    n_lymph = int(by_lymphoma_death.sum())
    if n_lymph:
        warnings.append({"kind": "lymphoma_death_as_failure", "n": n_lymph,
                         "message": f"{n_lymph} death(s) from lymphoma without a recorded progression counted as "
                                    "failure (progression) on the death date"})
    if infused and not failed.any():
        warnings.append({"kind": "no_failures", "n": 0,
                         "message": "no failure recorded (no PD/PMD after infusion): the study has zero failures"})
    for endpoint, notes in (("pfs2", pfs2_notes), ("os2", os2_notes)):
        for note in notes:
            warnings.append({"kind": "hazard_ratio", "endpoint": endpoint, "message": note})

    results = {
        "study": "late-failure",
        "cohort": {
            "registered": ep.registered,
            "infused": infused,
            "products": _value_counts(np.where(c.eq("product", None), "unknown", c.text("product"))),
        },
        "failures": failures,
        "early": {"n": int(early.sum()), "baseline": baseline(c, early)},
        "late": late_out,
        "toxicity": toxicity(c, {"late": late, "early": early, "infused": np.ones(c.n, bool)}),
        "ignored_records": ep.ignored if after_cutoff is None else ep.ignored | {"after_cutoff": after_cutoff},
        "warnings": warnings,
    }
    results["parameters"] = params.to_dict() | {"class_map_source": ep.class_map_source}
    return results, ep
