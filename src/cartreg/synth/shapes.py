"""A synthetic registry in the shapes registries really come in, each with its mapping.

``write_shape(reg, shape, out)`` writes into the directory ``out`` a source file and ``mapping.toml``
such that ``cartreg import out/<source> --mapping out/mapping.toml`` gives the same tables as importing
the registry itself (the round trip is a test at several seeds):

* ``wide-xlsx``: a clinician's workbook, one row per patient on sheet ``Feuil1``, French headers,
  ``H/F``, ``Oui/Non``, dates typed as ``dd/mm/yyyy`` text, CRP in mg/l, French response codes, and
  each assessment and treatment as a numbered group of columns;
* ``redcap``: a REDCap export (raw codes) of the template project, with ``dict.csv``;
* ``stata``: one wide ``registre.dta``: value-labelled codes, Stata dates, short variable names;
* ``sas-xpt``: a directory of SAS transport files (``patients.xpt`` ...) with 8-character names;
* ``spss``: one wide ``registre.sav`` with value labels and user-missing codes (``-9``).

The pivot from long to wide runs in DuckDB (list aggregation per patient), not in a Python loop.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cartreg.errors import CartregError
from cartreg.io.mapping import toml_value
from cartreg.synth.generate import SynthRegistry

SHAPES = ("wide-xlsx", "redcap", "stata", "sas-xpt", "spss")

SEX_FR = {"M": "H", "F": "F"}
YESNO_FR = {"yes": "Oui", "no": "Non"}
RESPONSE_FR = {"CR": "RC", "PR": "RP", "SD": "MS", "PD": "PROG", "CMR": "RMC", "PMR": "RMP", "NMR": "RMN",
               "PMD": "PMD", "NE": "NE"}
DEATH_FR = {"lymphoma": "lymphome", "toxicity": "toxicité", "infection": "infection", "other": "autre"}
BRIDGING_FR = {"none": "aucun", "chemotherapy": "chimiothérapie", "radiotherapy": "radiothérapie",
               "combined": "combiné", "other": "autre"}
HISTOLOGY_FR = {"DLBCL": "LDGCB", "PMBL": "LPM", "HGBCL": "LBHG", "tFL": "LF transformé", "tMZL": "LZM transformé",
                "PCNSL": "LCP", "GZL": "GZL", "RICHTER": "Richter", "OTHER": "autre"}
PRODUCT_BRAND = {"axi-cel": "Yescarta", "tisa-cel": "Kymriah", "liso-cel": "Breyanzi", "brexu-cel": "Tecartus",
                 "other": "autre"}

#: Wide-sheet columns: (target table, target column, header, kind) with kind in text, int, num, date,
#: sex, yesno, response, death, bridging, histology, product, crp.
WIDE_COLUMNS = (
    ("patients", "patient_id", "N° patient", "text"),
    ("patients", "center", "Centre", "text"),
    ("patients", "sex", "Sexe", "sex"),
    ("patients", "age", "Âge", "int"),
    ("patients", "histology", "Histologie", "histology"),
    ("patients", "eligibility_date", "Date d'éligibilité", "date"),
    ("patients", "stage", "Stade Ann Arbor", "int"),
    ("patients", "aaipi", "IPIaa", "int"),
    ("patients", "prior_lines", "Nb lignes antérieures", "int"),
    ("patients", "prior_auto_hsct", "Autogreffe", "yesno"),
    ("patients", "prior_allo_hsct", "Allogreffe", "yesno"),
    ("patients", "last_contact_date", "Date des dernières nouvelles", "date"),
    ("patients", "death_date", "Date de décès", "date"),
    ("patients", "death_cause", "Cause du décès", "death"),
    ("infusions", "infusion_date", "Date de réinjection", "date"),
    ("infusions", "product", "Produit", "product"),
    ("infusions", "ecog", "ECOG", "int"),
    ("infusions", "ldh_elevated", "LDH > N", "yesno"),
    ("infusions", "bulky", "Bulky", "yesno"),
    ("infusions", "ferritin_ug_l", "Ferritine (µg/L)", "num"),
    ("infusions", "crp_mg_dl", "CRP (mg/L)", "crp"),
    ("infusions", "bridging", "Bridge", "bridging"),
    ("infusions", "crs_grade", "Grade SRC", "int"),
    ("infusions", "icans_grade", "Grade ICANS", "int"),
)
_VALUE_MAPS = {"sex": SEX_FR, "yesno": YESNO_FR, "response": RESPONSE_FR, "death": DEATH_FR,
               "bridging": BRIDGING_FR, "histology": HISTOLOGY_FR, "product": PRODUCT_BRAND}


def _inverse(m: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in m.items()}


def wide_table(reg: SynthRegistry, relapse: bool = False) -> tuple[pa.Table, int, int]:
    """One row per patient: patients, their infusion, then assessments and treatments as numbered
    groups (by date). Returns (table with exchange names + ``resp_date_k`` ..., max responses, max treatments).

    With ``relapse``, each patient's first ``PD`` assessment is the column ``relapse_date`` instead of
    a numbered group (as clinicians record a relapse), so the mapping turns it back into a PD row.
    """
    con = duckdb.connect()
    for name, t in reg.tables.items():
        con.register(name, t)
    flag = ("(response = 'PD' AND row_number() OVER (PARTITION BY patient_id, response = 'PD' "
            "ORDER BY assessment_date) = 1)") if relapse else "FALSE"
    con.execute(f"CREATE TEMP TABLE resp AS SELECT *, {flag} AS is_relapse FROM responses")
    k_r = con.sql("SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM resp WHERE NOT is_relapse "
                  "GROUP BY patient_id)").fetchall()[0][0]
    k_t = con.sql("SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM treatments GROUP BY patient_id)").fetchall()[0][0]
    inf_cols = [c for c in reg.tables["infusions"].column_names if c != "patient_id"]
    r_sel = ", ".join(f"r.d[{k}] AS resp_date_{k}, r.c[{k}] AS resp_{k}" for k in range(1, k_r + 1))
    t_sel = ", ".join(f"t.d[{k}] AS trt_date_{k}, t.c[{k}] AS trt_{k}" for k in range(1, k_t + 1))
    sql = (
        "SELECT p.*, " + ", ".join(f"i.{c}" for c in inf_cols)
        + (", " + r_sel if r_sel else "") + (", " + t_sel if t_sel else "")
        + ", rl.relapse_date FROM (SELECT *, row_number() OVER () AS __o FROM patients) p "
        "LEFT JOIN infusions i USING (patient_id) "
        "LEFT JOIN (SELECT patient_id, list(assessment_date ORDER BY assessment_date, response) d, "
        "list(response ORDER BY assessment_date, response) c FROM resp WHERE NOT is_relapse GROUP BY patient_id) r "
        "USING (patient_id) "
        "LEFT JOIN (SELECT patient_id, min(assessment_date) AS relapse_date FROM resp WHERE is_relapse "
        "GROUP BY patient_id) rl USING (patient_id) "
        "LEFT JOIN (SELECT patient_id, list(start_date ORDER BY start_date, regimen) d, "
        "list(regimen ORDER BY start_date, regimen) c FROM treatments GROUP BY patient_id) t USING (patient_id) "
        "ORDER BY p.__o"
    )
    out = con.sql(sql).to_arrow_table().drop_columns(["__o"])
    con.close()
    return out, int(k_r), int(k_t)


def _fr_date(arr: pa.ChunkedArray) -> list[str | None]:
    import pyarrow.compute as pc

    return pc.strftime(arr, "%d/%m/%Y").to_pylist()


def _recode(arr: pa.ChunkedArray, m: dict[str, str]) -> list[str | None]:
    import pyarrow.compute as pc

    keys = pa.array(list(m), pa.string())
    vals = pa.array(list(m.values()), pa.string())
    return pc.coalesce(pc.take(vals, pc.index_in(arr, value_set=keys)), arr).to_pylist()


# --------------------------------------------------------------------------------- wide workbook


def write_wide_xlsx(reg: SynthRegistry, out: Path) -> Path:
    """``registre.xlsx`` (sheet Feuil1) and ``mapping.toml`` in ``out``."""
    from openpyxl import Workbook

    wide, k_r, k_t = wide_table(reg, relapse=True)
    if wide.num_rows + 1 > 1_048_576:
        raise CartregError(f"{wide.num_rows} patients: too many rows for an .xlsx sheet", 2)
    headers, cols = [], []
    for _table, col, header, kind in WIDE_COLUMNS:
        headers.append(header)
        cols.append(_wide_values(wide.column(col), kind))
    for k in range(1, k_r + 1):
        headers += [f"Date évaluation {k}", f"Réponse {k}"]
        cols += [_fr_date(wide.column(f"resp_date_{k}")), _recode(wide.column(f"resp_{k}"), RESPONSE_FR)]
    headers.append("Date de rechute")
    cols.append(_fr_date(wide.column("relapse_date")))
    for k in range(1, k_t + 1):
        headers += [f"Date traitement {k}", f"Traitement {k}"]
        cols += [_fr_date(wide.column(f"trt_date_{k}")), wide.column(f"trt_{k}").to_pylist()]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Feuil1")
    ws.append(headers)
    for row in zip(*cols):
        ws.append(row)
    out.mkdir(parents=True, exist_ok=True)
    wb.save(out / "registre.xlsx")
    lines = ['[source]', 'path = "registre.xlsx"', 'sheet = "Feuil1"', 'date_format = "%d/%m/%Y"',
             'missing = ["NA", "ND"]', '']
    for table in ("patients", "infusions"):
        lines.append(f"[{table}]")
        if table == "infusions":
            lines.append('patient_id = "N° patient"')
        for t, col, header, kind in WIDE_COLUMNS:
            if t != table:
                continue
            lines.append(f"{col} = {toml_value(_wide_spec(header, kind))}")
        lines.append("")
    for k in range(1, k_r + 1):
        lines += ["[[responses]]", 'patient_id = "N° patient"', f"assessment_date = {toml_value(f'Date évaluation {k}')}",
                  f"response = {toml_value({'column': f'Réponse {k}', 'values': _inverse(RESPONSE_FR)})}", ""]
    lines += ["# a relapse recorded as a date: an assessment with response PD", "[[responses]]",
              'patient_id = "N° patient"', 'assessment_date = "Date de rechute"', 'response = { constant = "PD" }', ""]
    for k in range(1, k_t + 1):
        lines += ["[[treatments]]", 'patient_id = "N° patient"', f"start_date = {toml_value(f'Date traitement {k}')}",
                  f"regimen = {toml_value(f'Traitement {k}')}", ""]
    (out / "mapping.toml").write_text("\n".join(lines), encoding="utf-8")
    return out / "registre.xlsx"


def _wide_values(arr: pa.ChunkedArray, kind: str) -> list:
    import pyarrow.compute as pc

    if kind == "date":
        return _fr_date(arr)
    if kind in _VALUE_MAPS:
        return _recode(arr, _VALUE_MAPS[kind])
    if kind == "crp":  # mg/dl -> mg/l
        return [None if v is None else round(v * 10, 6) for v in pc.cast(arr, pa.float64()).to_pylist()]
    return arr.to_pylist()


def _wide_spec(header: str, kind: str) -> object:
    if kind in _VALUE_MAPS:
        return {"column": header, "values": _inverse(_VALUE_MAPS[kind])}
    if kind == "crp":
        return {"column": header, "scale": 0.1}
    return header


# ---------------------------------------------------------------------------------------- REDCap


def write_redcap(reg: SynthRegistry, out: Path) -> Path:
    """``export.csv`` (raw codes), ``dict.csv`` (the template dictionary) and ``mapping.toml``."""
    from cartreg.io.redcap import TEMPLATE_FORMS, template_rows
    from cartreg.registry.schema import TABLES

    out.mkdir(parents=True, exist_ok=True)
    rows = template_rows(TABLES)
    with (out / "dict.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    fields = [r[0] for r in rows[1:]]
    forms = {r[0]: r[1] for r in rows[1:]}
    ftype = {r[0]: r[3] for r in rows[1:]}
    codes = {r[0]: {lab: code for code, lab in (p.split(", ", 1) for p in r[5].split(" | "))} for r in rows[1:] if r[3] == "dropdown"}
    con = duckdb.connect()
    for name, t in reg.tables.items():
        con.register(name, t)
    header = [fields[0], "redcap_repeat_instrument", "redcap_repeat_instance", *fields[1:]]
    parts = []
    base = ("SELECT p.patient_id AS record_id, NULL::VARCHAR AS redcap_repeat_instrument, NULL::BIGINT AS "
            "redcap_repeat_instance, p.* EXCLUDE (patient_id), i.* EXCLUDE (patient_id), 0 AS __k, 0 AS __o "
            "FROM (SELECT *, row_number() OVER () AS __p FROM patients) p LEFT JOIN infusions i USING (patient_id)")
    parts.append(con.sql(base).to_arrow_table())
    for form, table, rep in TEMPLATE_FORMS:
        if not rep:
            continue
        date = {"responses": "assessment_date", "treatments": "start_date"}[table]
        parts.append(con.sql(
            f"SELECT patient_id AS record_id, ? AS redcap_repeat_instrument, "
            f"row_number() OVER (PARTITION BY patient_id ORDER BY {date}) AS redcap_repeat_instance, * EXCLUDE (patient_id), "
            f"{1 if table == 'responses' else 2} AS __k FROM {table}", params=[form]).to_arrow_table())
    con.close()
    # one CSV, REDCap's layout: per record, its main row then its repeating instances
    order = {pid: i for i, pid in enumerate(reg.tables["patients"].column("patient_id").to_pylist())}
    lines: list[list[str]] = []
    for part in parts:
        names = part.column_names
        data = {n: part.column(n).to_pylist() for n in names}
        for i in range(part.num_rows):
            rec = {n: data[n][i] for n in names}
            row = []
            for h in header:
                v = rec.get(h)
                if v is None:
                    row.append("")
                elif h in codes:
                    row.append(codes[h][v])
                elif ftype.get(h) == "yesno":
                    row.append("1" if v == "yes" else "0")
                elif isinstance(v, dt.date):
                    row.append(v.isoformat())
                elif isinstance(v, float):
                    row.append(repr(v) if not v.is_integer() else str(int(v)))
                else:
                    row.append(str(v))
            key = (order.get(rec["record_id"], 0), rec.get("__k", 0), rec.get("redcap_repeat_instance") or 0)
            lines.append((key, row))
    lines.sort(key=lambda kr: kr[0])
    with (out / "export.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(r for _, r in lines)
    mapping = ['[source]', 'path = "export.csv"', 'redcap_dictionary = "dict.csv"', '']
    for form, table, _rep in TEMPLATE_FORMS:
        mapping += [f"[{table}]", f'from = "{form}"', 'patient_id = "record_id"']
        from cartreg.io.mapping import TARGET_COLUMNS

        mapping += [f'{c} = "{c}"' for c in TARGET_COLUMNS[table] if c != "patient_id" and forms.get(c) == form]
        mapping.append("")
    (out / "mapping.toml").write_text("\n".join(mapping), encoding="utf-8")
    return out / "export.csv"


# --------------------------------------------------------------------- Stata and SPSS (wide)


#: Short variable names of the Stata/SPSS wide file: target column -> (name, kind).
STAT_NAMES = {
    "patient_id": ("pid", "text"), "center": ("centre", "text"), "sex": ("sexe", "lab"), "age": ("age", "num"),
    "histology": ("histo", "text"), "eligibility_date": ("date_elig", "date"), "stage": ("stade", "num"),
    "aaipi": ("ipiaa", "num"), "prior_lines": ("nb_lignes", "num"), "prior_auto_hsct": ("autogreffe", "lab"),
    "prior_allo_hsct": ("allogreffe", "lab"), "last_contact_date": ("ddn", "date"), "death_date": ("date_deces", "date"),
    "death_cause": ("cause_deces", "lab"), "infusion_date": ("date_inj", "date"), "product": ("produit", "lab"),
    "ecog": ("ecog", "num"), "ldh_elevated": ("ldh", "lab"), "bulky": ("bulky", "lab"),
    "ferritin_ug_l": ("ferritine", "num"), "crp_mg_dl": ("crp_mgl", "crp"), "bridging": ("bridge", "lab"),
    "crs_grade": ("grade_src", "num"), "icans_grade": ("grade_icans", "num"),
}
STAT_LABELS = {
    "sex": {1: "Homme", 2: "Femme"},
    "prior_auto_hsct": {0: "Non", 1: "Oui"}, "prior_allo_hsct": {0: "Non", 1: "Oui"},
    "ldh_elevated": {0: "Non", 1: "Oui"}, "bulky": {0: "Non", 1: "Oui"},
    "death_cause": {1: "Lymphome", 2: "Toxicité", 3: "Infection", 4: "Autre"},
    "product": {1: "Yescarta", 2: "Kymriah", 3: "Breyanzi", 4: "Tecartus", 5: "Autre"},
    "bridging": {0: "Aucun", 1: "Chimiothérapie", 2: "Radiothérapie", 3: "Combiné", 4: "Autre"},
    "response": {1: "RC", 2: "RP", 3: "MS", 4: "PROG", 5: "RMC", 6: "RMP", 7: "RMN", 8: "PMD", 9: "NE"},
}
STAT_CODES = {  # label -> exchange code
    "sex": {"Homme": "M", "Femme": "F"}, "prior_auto_hsct": {"Non": "no", "Oui": "yes"},
    "prior_allo_hsct": {"Non": "no", "Oui": "yes"}, "ldh_elevated": {"Non": "no", "Oui": "yes"},
    "bulky": {"Non": "no", "Oui": "yes"},
    "death_cause": {"Lymphome": "lymphoma", "Toxicité": "toxicity", "Infection": "infection", "Autre": "other"},
    "product": {"Yescarta": "axi-cel", "Kymriah": "tisa-cel", "Breyanzi": "liso-cel", "Tecartus": "brexu-cel",
                "Autre": "other"},
    "bridging": {"Aucun": "none", "Chimiothérapie": "chemotherapy", "Radiothérapie": "radiotherapy",
                 "Combiné": "combined", "Autre": "other"},
    "response": _inverse(RESPONSE_FR),
}


def _dates(arr: pa.ChunkedArray):
    """A date column for pyreadstat (datetime64; a leading empty cell would make an object column text)."""
    import pandas as pd

    return pd.Series(pd.to_datetime(pd.Series(arr.to_pylist(), dtype=object)), dtype="datetime64[ns]")


def _stat_frame(reg: SynthRegistry, missing_code: float | None):
    """(pandas frame, value labels, user-missing columns, max responses, max treatments)."""
    import pandas as pd

    wide, k_r, k_t = wide_table(reg)
    frame: dict[str, object] = {}
    labels: dict[str, dict] = {}
    coded_missing: list[str] = []
    for target, (name, kind) in STAT_NAMES.items():
        arr = wide.column(target)
        if kind == "date":
            frame[name] = _dates(arr)
        elif kind == "lab":
            code_of = {lab_code: num for num, lab in STAT_LABELS[target].items()
                       for lab_code in [STAT_CODES[target][lab]]}
            frame[name] = pd.Series([np.nan if v is None else float(code_of[v]) for v in arr.to_pylist()])
            labels[name] = STAT_LABELS[target]
        elif kind == "crp":
            frame[name] = pd.Series([np.nan if v is None else round(v * 10, 6) for v in arr.to_pylist()], dtype=float)
        elif kind == "num":
            vals = [np.nan if v is None else float(v) for v in arr.to_pylist()]
            if missing_code is not None and any(np.isnan(vals)):
                vals = [missing_code if np.isnan(v) else v for v in vals]
                coded_missing.append(name)
            frame[name] = pd.Series(vals, dtype=float)
        else:
            frame[name] = pd.Series(["" if v is None else v for v in arr.to_pylist()], dtype=object)
    resp_code = {STAT_CODES["response"][lab]: num for num, lab in STAT_LABELS["response"].items()}
    for k in range(1, k_r + 1):
        frame[f"date_eval_{k}"] = _dates(wide.column(f"resp_date_{k}"))
        frame[f"rep_{k}"] = pd.Series([np.nan if v is None else float(resp_code[v])
                                       for v in wide.column(f"resp_{k}").to_pylist()])
        labels[f"rep_{k}"] = STAT_LABELS["response"]
    for k in range(1, k_t + 1):
        frame[f"date_trt_{k}"] = _dates(wide.column(f"trt_date_{k}"))
        frame[f"trt_{k}"] = pd.Series(["" if v is None else v for v in wide.column(f"trt_{k}").to_pylist()],
                                      dtype=object)
    return pd.DataFrame(frame), labels, coded_missing, k_r, k_t


def _stat_mapping(file: str, k_r: int, k_t: int) -> str:
    lines = ["[source]", f'path = "{file}"', ""]
    for table in ("patients", "infusions"):
        lines.append(f"[{table}]")
        from cartreg.io.mapping import TARGET_COLUMNS

        for target in TARGET_COLUMNS[table]:
            name, kind = STAT_NAMES[target]
            if kind == "lab":
                spec: object = {"column": name, "values": STAT_CODES[target]}
            elif kind == "crp":
                spec = {"column": name, "scale": 0.1}
            else:
                spec = name
            lines.append(f"{target} = {toml_value(spec)}")
        lines.append("")
    for k in range(1, k_r + 1):
        lines += ["[[responses]]", 'patient_id = "pid"', f'assessment_date = "date_eval_{k}"',
                  f"response = {toml_value({'column': f'rep_{k}', 'values': STAT_CODES['response']})}", ""]
    for k in range(1, k_t + 1):
        lines += ["[[treatments]]", 'patient_id = "pid"', f'start_date = "date_trt_{k}"', f'regimen = "trt_{k}"', ""]
    return "\n".join(lines)


def write_stata(reg: SynthRegistry, out: Path) -> Path:
    """``registre.dta`` (wide, value labels, ``%td`` dates) and ``mapping.toml``."""
    import pyreadstat

    df, labels, _, k_r, k_t = _stat_frame(reg, None)
    out.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_dta(df, str(out / "registre.dta"), variable_value_labels=labels, version=15)
    (out / "mapping.toml").write_text(_stat_mapping("registre.dta", k_r, k_t), encoding="utf-8")
    return out / "registre.dta"


def write_spss(reg: SynthRegistry, out: Path) -> Path:
    """``registre.sav`` (wide, value labels, missing numbers coded -9 and declared user-missing)."""
    import pyreadstat

    df, labels, coded, k_r, k_t = _stat_frame(reg, -9.0)
    out.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(df, str(out / "registre.sav"), variable_value_labels=labels,
                         missing_ranges={c: [-9.0] for c in coded})
    (out / "mapping.toml").write_text(_stat_mapping("registre.sav", k_r, k_t), encoding="utf-8")
    return out / "registre.sav"


# ------------------------------------------------------------------------------ SAS transport


#: 8-character SAS names per table: target column -> name.
XPT_NAMES = {
    "patients": {"patient_id": "PID", "center": "CENTER", "sex": "SEX", "age": "AGE", "histology": "HISTO",
                 "eligibility_date": "ELIGDT", "stage": "STAGE", "aaipi": "AAIPI", "prior_lines": "PRIORLN",
                 "prior_auto_hsct": "AUTOSCT", "prior_allo_hsct": "ALLOSCT", "last_contact_date": "LASTDT",
                 "death_date": "DEATHDT", "death_cause": "DTHCAUSE"},
    "infusions": {"patient_id": "PID", "infusion_date": "INFDT", "product": "PRODUCT", "ecog": "ECOG",
                  "ldh_elevated": "LDHHIGH", "bulky": "BULKY", "ferritin_ug_l": "FERRITIN", "crp_mg_dl": "CRP",
                  "bridging": "BRIDGING", "crs_grade": "CRSGR", "icans_grade": "ICANSGR"},
    "responses": {"patient_id": "PID", "assessment_date": "ASSESSDT", "response": "RESPONSE"},
    "treatments": {"patient_id": "PID", "start_date": "STARTDT", "regimen": "REGIMEN"},
}


def write_sas_xpt(reg: SynthRegistry, out: Path) -> Path:
    """A directory ``xpt/`` of SAS transport files (one per table, SAS dates, 1/0 flags) and ``mapping.toml``."""
    import pandas as pd
    import pyreadstat

    d = out / "xpt"
    d.mkdir(parents=True, exist_ok=True)
    lines = ["[source]", 'path = "xpt"', ""]
    for table, names in XPT_NAMES.items():
        t = reg.tables[table]
        frame = {}
        for target, name in names.items():
            col = t.column(target)
            if pa.types.is_date32(col.type):
                frame[name] = _dates(col)
            elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                frame[name] = pd.Series([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=float)
            elif target in ("prior_auto_hsct", "prior_allo_hsct", "ldh_elevated", "bulky"):
                frame[name] = pd.Series([np.nan if v is None else (1.0 if v == "yes" else 0.0) for v in col.to_pylist()])
            else:
                frame[name] = pd.Series(["" if v is None else v for v in col.to_pylist()], dtype=object)
        pyreadstat.write_xport(pd.DataFrame(frame), str(d / f"{table}.xpt"), table_name=table[:8].upper())
        lines.append(f"[{table}]")
        lines.append(f'from = "{table}"')
        lines += [f'{target} = "{name}"' for target, name in names.items()]
        lines.append("")
    (out / "mapping.toml").write_text("\n".join(lines), encoding="utf-8")
    return d


def write_shape(reg: SynthRegistry, shape: str, out: str | Path) -> Path:
    """Write ``reg`` as ``shape`` (one of :data:`SHAPES`) with ``mapping.toml`` into the directory
    ``out``; returns the source path to give to ``cartreg import SOURCE --mapping out/mapping.toml``."""
    out = Path(out)
    writers = {"wide-xlsx": write_wide_xlsx, "redcap": write_redcap, "stata": write_stata,
               "sas-xpt": write_sas_xpt, "spss": write_spss}
    if shape not in writers:
        raise CartregError(f"--as {shape}: unknown shape (use {', '.join(SHAPES)})", 2)
    if out.suffix.lower() == _FILE_SUFFIX.get(shape):
        return _write_as_file(reg, shape, out, writers[shape])
    if out.exists() and not out.is_dir():
        raise CartregError(f"{out}: --as {shape} writes a directory (source file + mapping.toml)", 2)
    return writers[shape](reg, out)


#: A shape written to ``-o NAME<suffix>`` is that file, with ``NAME.mapping.toml`` beside it.
_FILE_SUFFIX = {"wide-xlsx": ".xlsx", "stata": ".dta", "spss": ".sav", "redcap": ".csv"}


def _write_as_file(reg: SynthRegistry, shape: str, out: Path, writer) -> Path:
    """``-o registre.xlsx``: the source file itself, ``registre.mapping.toml`` (and for REDCap
    ``registre.dict.csv``) beside it."""
    import shutil
    import tempfile

    if not out.parent.is_dir():
        raise CartregError(f"{out.parent}: no such directory", 2)
    tmp = Path(tempfile.mkdtemp(prefix=".cartreg-shape-", dir=out.parent))
    try:
        src = writer(reg, tmp)
        text = (tmp / "mapping.toml").read_text(encoding="utf-8")
        text = text.replace(f'path = "{src.name}"', f"path = {toml_value(out.name)}", 1)
        if shape == "redcap":
            dict_name = f"{out.stem}.dict.csv"
            text = text.replace('redcap_dictionary = "dict.csv"', f"redcap_dictionary = {toml_value(dict_name)}", 1)
            (tmp / "dict.csv").replace(out.parent / dict_name)
        (out.parent / f"{out.stem}.mapping.toml").write_text(text, encoding="utf-8")
        src.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
