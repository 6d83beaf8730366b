"""``cartreg map init``: draft a mapping from a source's headers and values.

Headers are matched to exchange-format columns by name, in English and French, ignoring case, accents
and punctuation, with common abbreviations (``ddn`` = date des dernières nouvelles, ``ipiaa`` ...).
Assessment and treatment columns repeated per visit (``Date évaluation M3`` / ``Réponse M3``) are
paired by what remains of their header and give one ``[[responses]]`` entry per visit. Code and
boolean columns get a ``values`` table proposed from the values seen and the known spellings
(``H`` -> ``M``, ``Oui`` -> ``yes``); date columns get their detected format.

Every proposal is marked: a ``values`` table or a date format from the data carries a
``# proposed ...: check`` comment, a relapse date read as a PD assessment a ``# TODO`` comment, and a
column or value that could not be matched is written only as a ``# TODO`` comment, never as a mapping.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import duckdb

from cartreg.io.mapping import TARGET_COLUMNS, toml_value
from cartreg.io.readers import SourceTable, read_source

#: Normalised header words per target column (English, French, abbreviations).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "patient_id": ("patient id", "patient", "id", "n patient", "no patient", "numero patient", "num patient",
                   "identifiant", "record id", "subject id", "pid", "upn", "code patient"),
    "center": ("center", "centre", "site", "hopital", "hospital", "center id", "centre id"),
    "sex": ("sex", "sexe", "gender", "genre"),
    "age": ("age", "age eligibility", "age a l eligibilite", "age ans", "age years"),
    "histology": ("histology", "histologie", "histo", "diagnosis", "diagnostic", "type histologique"),
    "eligibility_date": ("eligibility date", "date d eligibilite", "date eligibilite", "date elig", "eligibility",
                         "date de validation", "date rcp"),
    "stage": ("stage", "stade", "ann arbor", "stade ann arbor", "ann arbor stage"),
    "aaipi": ("aaipi", "aa ipi", "ipiaa", "ipi aa", "age adjusted ipi", "ipi ajuste"),
    "prior_lines": ("prior lines", "nb lignes", "nombre de lignes", "lignes anterieures", "nb lignes anterieures",
                    "lines", "previous lines", "number of prior lines"),
    "prior_auto_hsct": ("prior auto hsct", "autogreffe", "auto hsct", "asct", "prior asct", "autograft"),
    "prior_allo_hsct": ("prior allo hsct", "allogreffe", "allo hsct", "prior allo", "allograft"),
    "last_contact_date": ("last contact date", "last contact", "date des dernieres nouvelles", "ddn",
                          "date de derniere nouvelle", "derniere nouvelle", "last follow up", "date of last follow up",
                          "date last contact"),
    "death_date": ("death date", "date de deces", "date deces", "dod", "date of death", "deces date"),
    "death_cause": ("death cause", "cause du deces", "cause deces", "cause of death"),
    "infusion_date": ("infusion date", "date de reinjection", "date reinjection", "date d infusion", "date infusion",
                      "date inj", "date injection", "date car t", "date de perfusion"),
    "product": ("product", "produit", "car t product", "car t", "type de car t", "car t cells"),
    "ecog": ("ecog", "ps", "performance status", "ecog ps", "ecog a l infusion"),
    "ldh_elevated": ("ldh elevated", "ldh", "ldh n", "ldh eleve", "ldh augmentee", "ldh uln"),
    "bulky": ("bulky", "masse bulky", "bulky disease"),
    "ferritin_ug_l": ("ferritin", "ferritine", "ferritine g l", "ferritin g l", "ferritine mg l", "ferritin ug l", "ferritine ug l", "ferritin ng ml", "ferritine ng ml"),
    "crp_mg_dl": ("crp", "crp mg dl", "crp mg l", "c reactive protein", "proteine c reactive"),
    "bridging": ("bridging", "bridge", "bridging therapy", "traitement d attente"),
    "crs_grade": ("crs grade", "crs", "grade src", "src", "src grade", "grade crs", "srck"),
    "icans_grade": ("icans grade", "icans", "grade icans", "neurotoxicite"),
}
#: Keywords of repeated visit columns (responses, treatments) and relapse dates.
_ASSESS_DATE = ("date evaluation", "date eval", "assessment date", "date assessment", "date bilan", "date reponse",
                "date response", "date tep", "date pet")
_RESPONSE = ("reponse", "response", "evaluation", "eval", "statut", "rep", "resp", "bor")
_TRT_DATE = ("date traitement", "date trt", "treatment date", "start date", "date debut", "date de debut")
_TRT = ("traitement", "trt", "treatment", "regimen", "regime", "protocole", "tt", "ligne", "line")
_RELAPSE = ("date de rechute", "date rechute", "date de progression", "date progression", "relapse date",
            "progression date", "date of relapse", "date of progression", "rechute", "progression")

#: Known spellings of codes: normalised value -> exchange code, per column type.
KNOWN_VALUES: dict[str, dict[str, str]] = {
    "sex": {"h": "M", "homme": "M", "m": "M", "male": "M", "masculin": "M", "f": "F", "femme": "F", "female": "F",
            "feminin": "F", "1": "M", "2": "F"},
    "bool": {"oui": "yes", "non": "no", "o": "yes", "n": "no", "yes": "yes", "no": "no", "y": "yes", "true": "yes",
             "false": "no", "1": "yes", "0": "no", "vrai": "yes", "faux": "no"},
    "response": {"rc": "CR", "rp": "PR", "ms": "SD", "stable": "SD", "prog": "PD", "progression": "PD", "rmc": "CMR",
                 "rmp": "PMR", "rmn": "NMR", "pmd": "PMD", "cr": "CR", "pr": "PR", "sd": "SD", "pd": "PD",
                 "cmr": "CMR", "pmr": "PMR", "nmr": "NMR", "ne": "NE", "non evaluable": "NE"},
    "death_cause": {"lymphome": "lymphoma", "lymphoma": "lymphoma", "progression": "lymphoma", "toxicite": "toxicity",
                    "toxicity": "toxicity", "infection": "infection", "autre": "other", "other": "other"},
    "product": {"yescarta": "axi-cel", "axi cel": "axi-cel", "axicabtagene": "axi-cel", "kymriah": "tisa-cel",
                "tisa cel": "tisa-cel", "tisagenlecleucel": "tisa-cel", "breyanzi": "liso-cel", "liso cel": "liso-cel",
                "tecartus": "brexu-cel", "brexu cel": "brexu-cel", "autre": "other", "other": "other"},
    "bridging": {"aucun": "none", "none": "none", "non": "none", "chimiotherapie": "chemotherapy", "chimio": "chemotherapy",
                 "chemotherapy": "chemotherapy", "radiotherapie": "radiotherapy", "radiotherapy": "radiotherapy",
                 "combine": "combined", "combined": "combined", "autre": "other", "other": "other"},
    "histology": {"ldgcb": "DLBCL", "dlbcl": "DLBCL", "lpm": "PMBL", "pmbl": "PMBL", "hgbcl": "HGBCL",
                  "lf transforme": "tFL", "tfl": "tFL", "lzm transforme": "tMZL", "tmzl": "tMZL", "richter": "RICHTER",
                  "autre": "OTHER", "other": "OTHER", "pcnsl": "PCNSL", "gzl": "GZL"},
}
_VALUE_KIND = {"sex": "sex", "prior_auto_hsct": "bool", "prior_allo_hsct": "bool", "ldh_elevated": "bool",
               "bulky": "bool", "response": "response", "death_cause": "death_cause", "product": "product",
               "bridging": "bridging", "histology": "histology"}
_DATE_FORMATS = (("%d/%m/%Y", r"\d{1,2}/\d{1,2}/\d{4}"), ("%d/%m/%y", r"\d{1,2}/\d{1,2}/\d{2}"),
                 ("%d.%m.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"), ("%d-%m-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
                 ("%Y/%m/%d", r"\d{4}/\d{1,2}/\d{1,2}"))


def norm(text: str) -> str:
    """Lower-case, accents removed, punctuation as spaces: ``"Date d'éligibilité"`` -> ``"date d eligibilite"``."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def _values_seen(con: duckdb.DuckDBPyConnection, header: str, limit: int = 40) -> list[str]:
    q = '"' + header.replace('"', '""') + '"'
    rows = con.sql(f"SELECT trim({q}) v, count(*) n FROM src WHERE NULLIF(trim({q}), '') IS NOT NULL "
                   f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(limit)}").fetchall()
    return [r[0] for r in rows]


def _date_format(values: list[str]) -> tuple[str | None, str]:
    """(format or None for ISO, comment)."""
    if not values:
        return None, ""
    if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00(:00)?)?", v) for v in values):
        return None, ""
    for fmt, rx in _DATE_FORMATS:
        if all(re.fullmatch(rx, v) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in values):
            note = ""
            if fmt.startswith("%d") and not any(int(re.split(r"\D", v)[0]) > 12 for v in values if not v[:4].isdigit()):
                note = " (day/month order not certain from the values seen: check)"
            return fmt, f"# proposed date format from the values seen{note}"
    return None, "# TODO: dates in an unknown format (values like " + ", ".join(repr(v) for v in values[:3]) + \
        "); add format = \"...\""


def _values_block(target: str, values: list[str]) -> tuple[dict[str, str], list[str]]:
    kind = _VALUE_KIND.get(target)
    known = KNOWN_VALUES.get(kind or "", {})
    mapped, unknown = {}, []
    for v in values:
        code = known.get(norm(v))
        if code is not None and code != v:
            mapped[v] = code
        elif code is None:
            unknown.append(v)
    return mapped, unknown


#: Words of a unit after a column name (``CRP (mg/L)``, ``crp_mgl``, ``Ferritine µg/L``).
_UNITS = {"mg", "l", "dl", "mgl", "mgdl", "ug", "ugl", "ng", "ml", "ngml", "g", "gl", "mmol", "umol", "ui", "iu",
          "u", "ans", "years", "y", "yrs", "pct", "percent"}


def _match(header_norm: str, target: str) -> bool:
    """The header names the target: a synonym, the column name itself, or either followed by units."""
    names = (*SYNONYMS.get(target, ()), norm(target))
    if header_norm in names:
        return True
    for n in names:
        if header_norm.startswith(n + " ") and all(w in _UNITS for w in header_norm[len(n) + 1:].split()):
            return True
    return False


def draft_mapping(source: Path, out: Path, sheet: str | None = None,
                  redcap_dictionary: Path | None = None) -> tuple[str, int]:
    """(TOML text of a draft mapping for ``source``, number of TODO comments).

    With ``redcap_dictionary``, the export's codes are read as their labels (and the mapping names
    the dictionary), so ``values`` are proposed from labels."""
    if redcap_dictionary is not None:
        from cartreg.io.redcap import read_redcap

        src = read_redcap(Path(source), Path(redcap_dictionary))
        st: SourceTable = src.all_rows
    else:
        src = read_source(Path(source))
        st = src.table(sheet) if sheet is not None else next(iter(src.tables.values()))
    rel = _relative(Path(source), out)
    con = duckdb.connect()
    con.register("src", st.data)
    heads = {h: norm(h) for h in st.columns}
    instrument = (_redcap_instruments(con, st) if src.kind == "redcap" or (src.kind == "csv" and _is_redcap(Path(source)))
                  else {})
    used: set[str] = set()
    todo = 0
    lines = ["# Draft mapping written by `cartreg map init`: review every comment, then `cartreg map check`.",
             "[source]", f"path = {toml_value(str(rel))}"]
    if redcap_dictionary is not None:
        lines.append(f"redcap_dictionary = {toml_value(_relative(Path(redcap_dictionary), out))}")
    elif len(src.tables) > 1 or src.kind == "xlsx":
        lines.append(f"sheet = {toml_value(st.name)}")
    # date format: the one most date columns use
    date_cols = [h for h in st.columns for t in ("eligibility_date", "last_contact_date", "death_date", "infusion_date")
                 if _match(heads[h], t)]
    default_fmt, fmt_note = _date_format([v for h in date_cols for v in _values_seen(con, h, 20)])
    if default_fmt:
        lines += [fmt_note, f"date_format = {toml_value(default_fmt)}"]
    lines.append("")
    pid = next((h for h in st.columns if _match(heads[h], "patient_id")), None)
    for table in ("patients", "infusions"):
        lines.append(f"[{table}]")
        for target, ctype in TARGET_COLUMNS[table].items():
            header = pid if target == "patient_id" else next(
                (h for h in st.columns if h not in used and _match(heads[h], target)), None)
            if header is None:
                todo += 1
                lines.append(f"# TODO: no source column found for {target} ({ctype}); map it or leave it out")
                continue
            if target != "patient_id":
                used.add(header)
            lines += _spec_lines(con, target, ctype, header, default_fmt)
            todo += sum(1 for ln in lines[-3:] if ln.startswith("# TODO"))
        lines.append("")
    if pid is not None:
        used.add(pid)
    # repeated visits: pair date and value columns by the rest of their header
    for table, date_kw, val_kw, date_t, val_t in (("responses", _ASSESS_DATE, _RESPONSE, "assessment_date", "response"),
                                                 ("treatments", _TRT_DATE, _TRT, "start_date", "regimen")):
        dates = {_rest(heads[h], date_kw): h for h in st.columns if h not in used and _rest(heads[h], date_kw) is not None}
        vals = {_rest(heads[h], val_kw): h for h in st.columns if h not in used and h not in dates.values()
                and _rest(heads[h], val_kw) is not None and not heads[h].startswith("date")}
        for key in sorted(dates, key=_natural):
            d = dates[key]
            used.add(d)
            lines += [f"[[{table}]]"]
            if instrument.get(d):
                lines += [f"# REDCap: the rows of the repeating instrument where {d!r} is filled",
                          f"from = {toml_value(instrument[d])}"]
            lines += [f"patient_id = {toml_value(pid or 'TODO')}"]
            lines += _spec_lines(con, date_t, "date", d, default_fmt)
            if key in vals:
                used.add(vals[key])
                lines += _spec_lines(con, val_t, "code" if val_t == "response" else "text", vals[key], default_fmt)
            else:
                todo += 1
                lines.append(f"# TODO: no {val_t} column found beside {d!r}")
            lines.append("")
    for h in st.columns:
        if h not in used and any(heads[h].startswith(k) or heads[h] == k for k in _RELAPSE):
            used.add(h)
            todo += 1
            lines += ["# TODO: a relapse/progression date read as a PD assessment: check this is what it records",
                      "[[responses]]", f"patient_id = {toml_value(pid or 'TODO')}"]
            lines += _spec_lines(con, "assessment_date", "date", h, default_fmt)
            lines += ['response = { constant = "PD" }', ""]
    rest = [h for h in st.columns if h not in used and not (instrument is not None and src.kind in ("redcap", "csv")
                                                            and (norm(h).startswith("redcap ") or norm(h).endswith(" complete")
                                                                 or norm(h) in ("repeat instrument", "repeat instance")))]
    if rest:
        todo += 1
        lines.append("# TODO: source columns not mapped: " + ", ".join(repr(h) for h in rest))
    if pid is None:
        todo += 1
        lines.insert(1, "# TODO: no patient identifier column found: set patient_id in every table")
    con.close()
    text = "\n".join(lines) + "\n"
    return text, text.count("# TODO")


def _relative(path: Path, out: Path) -> str:
    """``path`` relative to the mapping file's directory when below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path(out).resolve().parent))
    except ValueError:
        return str(path.resolve())


def _is_redcap(path: Path) -> bool:
    from cartreg.io.redcap import is_redcap_export

    return is_redcap_export(path)


def _redcap_instruments(con, st: SourceTable) -> dict[str, str]:
    """For each header of a REDCap export, the repeating instrument of most rows where it is filled."""
    inst = next((h for h in st.columns if norm(h) in ("redcap repeat instrument", "repeat instrument")), None)
    if inst is None:
        return {}
    out = {}
    qi = '"' + inst.replace('"', '""') + '"'
    for h in st.columns:
        q = '"' + h.replace('"', '""') + '"'
        row = con.sql(f"SELECT {qi}, count(*) n FROM src WHERE NULLIF(trim({q}), '') IS NOT NULL "
                      f"GROUP BY 1 ORDER BY n DESC LIMIT 1").fetchall()
        if row and row[0][0]:
            out[h] = row[0][0]
    return out


def _natural(key: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.findall(r"\d+|\D+", key or ""))


def _rest(header_norm: str, keywords: tuple[str, ...]) -> str | None:
    """What follows a keyword at the start of a header (the visit label), else None."""
    for k in sorted(keywords, key=len, reverse=True):
        if header_norm == k or header_norm.startswith(k + " "):
            return header_norm[len(k):].strip()
    return None


def _spec_lines(con, target: str, ctype: str, header: str, default_fmt: str | None) -> list[str]:
    out: list[str] = []
    spec: dict = {"column": header}
    values = _values_seen(con, header)
    if ctype == "date":
        fmt, note = _date_format(values)
        if fmt != default_fmt and (fmt is not None or note):
            if note:
                out.append(note)
            if fmt is not None:
                spec["format"] = fmt
    if ctype in ("code", "bool"):
        mapped, unknown = _values_block(target, values)
        if mapped:
            spec["values"] = mapped
            out.append(f"# proposed values for {target} from the values seen: check")
        if unknown:
            out.append(f"# TODO: values of {header!r} not mapped (they must already be exchange codes): "
                       + ", ".join(repr(v) for v in unknown[:20]))
    if target in ("crp_mg_dl",) and re.search(r"\bmg ?l\b", norm(header)) and "dl" not in norm(header):
        spec["scale"] = 0.1
        out.append("# proposed: CRP in mg/l -> mg/dl (scale 0.1) from the header: check the unit")
    if len(spec) == 1:
        out.append(f"{target} = {toml_value(header)}")
    else:
        out.append(f"{target} = {toml_value(spec)}")
    return out
