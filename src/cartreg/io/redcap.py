"""REDCap: read an export (raw or labelled) by instrument, read a data dictionary, write the template.

A REDCap export is one CSV: one row per record for the non-repeating instruments (empty
``redcap_repeat_instrument``) and one row per instance of each repeating instrument. Here it becomes a
:class:`~cartreg.io.readers.SourceFile` whose tables are instruments: ``table("responses")`` holds the
rows of the repeating instrument ``responses``; a non-repeating instrument (or, without a dictionary,
any other name) holds the rows whose ``redcap_repeat_instrument`` is empty. Row numbers are the
export's spreadsheet rows.

With the project's data dictionary (REDCap's CSV format: "Variable / Field Name", "Form Name",
"Field Type", "Field Label", "Choices, Calculations, OR Slider Labels", "Text Validation Type OR Show
Slider Number", "Text Validation Min", "Text Validation Max", ...):

* raw codes become their labels (dropdown, radio: ``1, M | 2, F``; yesno: ``1`` -> ``Yes``;
  truefalse: ``1`` -> ``True``; checkbox ``field___code``: ``1`` -> ``Checked``, ``0`` ->
  ``Unchecked``), the codes stay readable by a mapping's ``values``;
* a labelled export (headers are field labels, values are labels) is read too: headers are turned
  back into field names (``Label (choice=X)`` into ``field___code``).

:func:`template_dictionary` writes the dictionary of a REDCap project for the exchange format, and
:func:`builtin_mapping` imports an export of such a project without a mapping file.

Example::

    src = read_redcap(Path("export.csv"), Path("dict.csv"))
    src.table("responses").data.num_rows
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping as MappingT
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError
from cartreg.io.readers import SourceFile, SourceTable, read_source_file

#: Standard REDCap export columns and their labelled-export headers.
REDCAP_COLUMNS: MappingT[str, str] = {
    "repeat instrument": "redcap_repeat_instrument",
    "repeat instance": "redcap_repeat_instance",
    "event name": "redcap_event_name",
    "data access group": "redcap_data_access_group",
    "survey identifier": "redcap_survey_identifier",
}
DICT_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
)


@dataclass(frozen=True)
class Field:
    """One field of a data dictionary."""

    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...]  # (code, label)
    validation: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().casefold()).strip("_")


def parse_choices(text: str) -> tuple[tuple[str, str], ...]:
    """``"1, M | 2, F"`` -> (("1", "M"), ("2", "F")) (REDCap's choice syntax)."""
    out = []
    for part in (text or "").split("|"):
        if not part.strip():
            continue
        code, _, label = part.partition(",")
        out.append((code.strip(), label.strip()))
    return tuple(out)


def read_dictionary(path: Path) -> tuple[Field, ...]:
    """A REDCap data dictionary (CSV). Columns are matched by the start of their header."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CartregError(f"{path}: no such REDCap data dictionary", 2) from None
    except UnicodeDecodeError:
        text = path.read_bytes().decode("cp1252", errors="replace")
    try:  # a stray carriage return or NUL byte in an unquoted field (issue 16's property test)
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CartregError(f"{path.name}: not a readable REDCap data dictionary ({exc})", 2) from exc
    if not rows:
        raise CartregError(f"{path.name}: empty REDCap data dictionary", 2)
    head = [h.strip().casefold() for h in rows[0]]

    def col(prefix: str, required: bool = True) -> int | None:
        for i, h in enumerate(head):
            if h.startswith(prefix):
                return i
        if required:
            raise CartregError(f"{path.name}: not a REDCap data dictionary (no column '{prefix}...'; "
                               f"expected {', '.join(DICT_HEADER[:6])}, ...)", 2)
        return None

    i_name, i_form, i_type = col("variable / field name"), col("form name"), col("field type")
    i_label, i_choice = col("field label", False), col("choices", False)
    i_valid = col("text validation type", False)
    fields = []
    for r in rows[1:]:
        if not r or not r[i_name].strip():
            continue
        get = lambda i: (r[i] if i is not None and i < len(r) else "")  # noqa: E731
        ftype = get(i_type).strip().lower()
        choices = parse_choices(get(i_choice)) if ftype in ("dropdown", "radio", "checkbox") else ()
        if ftype == "yesno":
            choices = (("1", "Yes"), ("0", "No"))
        elif ftype == "truefalse":
            choices = (("1", "True"), ("0", "False"))
        fields.append(Field(r[i_name].strip(), get(i_form).strip(), ftype, get(i_label).strip(), choices,
                            get(i_valid).strip()))
    return tuple(fields)


def is_redcap_export(path: Path) -> bool:
    """A CSV whose header has REDCap's repeat-instrument or event column."""
    try:
        with Path(path).open("rb") as f:
            first = f.readline().decode("utf-8-sig", errors="ignore").casefold()
    except OSError:
        return False
    return any(k in first for k in ("redcap_repeat_instrument", "redcap_event_name", "repeat instrument"))


def _header_names(columns: tuple[str, ...], fields: tuple[Field, ...]) -> list[str]:
    """Field names for the headers of a raw or labelled export."""
    by_name = {f.name.casefold(): f.name for f in fields}
    by_label: dict[str, str] = {}
    for f in fields:
        by_label.setdefault(f.label.casefold(), f.name)
        if f.type == "checkbox":
            for code, lab in f.choices:
                by_label.setdefault(f"{f.label} (choice={lab})".casefold(), f"{f.name}___{code}")
    forms = {f.form for f in fields}
    out = []
    for c in columns:
        key = c.strip().casefold()
        if key in by_name or re.fullmatch(r"[a-z0-9_]+___[a-z0-9_-]+", key) or key.startswith("redcap_"):
            out.append(by_name.get(key, c))
        elif key in REDCAP_COLUMNS:
            out.append(REDCAP_COLUMNS[key])
        elif key in by_label:
            out.append(by_label[key])
        elif key == "complete?" or key.endswith(" complete?"):
            form = next((fm for fm in forms if _slug(fm) == _slug(key[:-len("complete?")])), None)
            out.append(f"{form}_complete" if form else c)
        else:
            out.append(c)
    return out


def read_redcap(path: Path, dictionary: Path | None = None) -> SourceFile:
    """A REDCap export as a source whose tables are instruments (see the module docstring)."""
    path = Path(path)
    st = next(iter(read_source_file(path).values()))
    fields = read_dictionary(dictionary) if dictionary is not None else ()
    columns = _header_names(st.columns, fields) if fields else list(st.columns)
    dupes = {c for c in columns if columns.count(c) > 1}
    if dupes:
        raise CartregError(f"{path.name}: the headers give the same field twice ({', '.join(sorted(dupes))})", 2)
    data = pa.Table.from_arrays(list(st.data.columns), names=[*columns, "_row"])
    codes: dict[str, pa.Array] = {}
    if fields:
        data, codes = _apply_choices(data, fields)
    folded = {c.casefold(): c for c in columns}
    inst_col = folded.get("redcap_repeat_instrument")
    sources = ((path.name, st.sha256),) + (((dictionary.name, _sha(dictionary)),) if dictionary else ())
    tables: dict[str, SourceTable] = {}
    base = SourceTable(st.name, st.label, tuple(columns), data, codes, st.sha256)
    if inst_col is None:
        tables["(all rows)"] = base
        repeating: list[str] = []
    else:
        inst = data.column(inst_col)
        repeating = [v for v in pc.unique(inst).to_pylist() if v is not None]
        for name in repeating:
            tables[name] = _subset(base, pc.fill_null(pc.equal(inst, name), False), name)
        tables["(non-repeating)"] = _subset(base, pc.is_null(inst), "(non-repeating)")
    return RedcapSource(path, "redcap", tables, sources, tuple(repeating), tuple(sorted({f.form for f in fields})), base)


def _sha(p: Path) -> str:
    from cartreg.io.registry_files import sha256_file

    return sha256_file(p)


def _subset(st: SourceTable, mask: pa.Array, name: str) -> SourceTable:
    data = st.data.filter(mask)
    codes = {k: v.filter(mask) for k, v in st.codes.items()}
    return SourceTable(name, st.label, st.columns, data, codes, st.sha256)


def _apply_choices(data: pa.Table, fields: tuple[Field, ...]) -> tuple[pa.Table, dict[str, pa.Array]]:
    """Codes -> labels for coded fields; the codes are kept. Labels already there stay."""
    by_name = {f.name: f for f in fields}
    codes: dict[str, pa.Array] = {}
    arrays, names = [], data.column_names
    for name in names:
        arr = data.column(name).combine_chunks()
        field = by_name.get(name)
        choices: tuple[tuple[str, str], ...] = ()
        if field is not None and field.choices and field.type != "checkbox":
            choices = field.choices
        elif "___" in name and by_name.get(name.rsplit("___", 1)[0], None) is not None \
                and by_name[name.rsplit("___", 1)[0]].type == "checkbox":
            choices = (("1", "Checked"), ("0", "Unchecked"))
        if choices:
            keys = pa.array([c for c, _ in choices], pa.string())
            labels = pa.array([lab for _, lab in choices], pa.string())
            labelled = pc.take(labels, pc.index_in(pc.utf8_trim_whitespace(arr), value_set=keys))
            codes[name] = arr
            arr = pc.coalesce(labelled, arr)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=names), codes


@dataclass(frozen=True)
class RedcapSource(SourceFile):
    """A REDCap export by instrument. ``repeating``: the repeat-instrument values seen; ``forms``:
    the dictionary's form names."""

    repeating: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    all_rows: SourceTable | None = None  # every row, codes turned into labels

    def table(self, name: str | None, what: str = "") -> SourceTable:
        if "(all rows)" in self.tables:
            return self.tables["(all rows)"]
        if name is None:
            return self.tables["(non-repeating)"]
        key = _slug(name)
        for r in self.repeating:  # raw exports hold the form name, labelled ones its label
            if _slug(r) == key:
                return self.tables[r]
        if self.forms and key not in {_slug(f) for f in self.forms}:
            raise CartregError(f"{self.path.name}: {what}no instrument '{name}' in the data dictionary "
                               f"(instruments: {', '.join(self.forms)})", 2)
        return self.tables["(non-repeating)"]


# ------------------------------------------------------------------------------ the template


#: Instruments of the template project: (form, exchange table, repeating).
TEMPLATE_FORMS = (("patients", "patients", False), ("infusions", "infusions", False),
                  ("responses", "responses", True), ("treatments", "treatments", True))


def template_rows(schema_tables) -> list[list[str]]:
    """The rows (header first) of the template data dictionary for the exchange format.

    ``schema_tables`` is :data:`cartreg.registry.schema.TABLES` (passed in: io comes before registry),
    which gives code lists, ranges, required flags and meanings.
    """
    from cartreg.io.mapping import TARGET_COLUMNS

    meta = {(t.name, c.name): {"codes": c.codes, "minimum": c.minimum, "maximum": c.maximum,
                               "required": c.required, "meaning": c.meaning}
            for t in schema_tables for c in t.columns}
    rows = [list(DICT_HEADER)]
    rows.append(["record_id", "patients", "", "text", "Patient ID (patient_id)", "", "", "", "", "", "y", "",
                 "y", "", "", "", "", ""])
    for form, table, _rep in TEMPLATE_FORMS:
        for col, ctype in TARGET_COLUMNS[table].items():
            if col == "patient_id":
                continue
            m = meta[(table, col)]
            ftype, choices, valid, vmin, vmax = "text", "", "", "", ""
            if ctype == "code":
                ftype = "dropdown"
                choices = " | ".join(f"{i}, {c}" for i, c in enumerate(m["codes"], start=1))
            elif ctype == "bool":
                ftype = "yesno"
            elif ctype == "date":
                valid = "date_ymd"
            elif ctype == "integer":
                valid = "integer"
            elif ctype == "number":
                valid = "number"
            if ctype in ("integer", "number"):
                vmin = "" if m["minimum"] is None else _num(m["minimum"])
                vmax = "" if m["maximum"] is None else _num(m["maximum"])
            required = "y" if m["required"] else ""
            rows.append([col, form, "", ftype, f"{m['meaning'] or col} ({col})", choices, "", valid, vmin, vmax,
                         "", "", required, "", "", "", "", ""])
    return rows


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def write_template_dictionary(out: Path, schema_tables) -> Path:
    """Write the template dictionary CSV (atomically)."""
    import os
    import tempfile

    out = Path(out)
    if not out.parent.exists():
        raise CartregError(f"{out.parent}: no such directory", 2)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(template_rows(schema_tables))
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    os.replace(tmp, out)
    return out


def builtin_mapping(export: Path, dictionary: Path):
    """The mapping of an export of the template project: field names are exchange column names,
    ``record_id`` is the patient, each table comes from its instrument."""
    from cartreg.io.mapping import TARGET_COLUMNS, parse_mapping

    src = read_redcap(export, dictionary)
    doc: dict = {"source": {}}
    for form, table, _rep in TEMPLATE_FORMS:
        st = src.table(form)
        block: dict = {"from": form, "patient_id": st.columns[0]}
        for col in TARGET_COLUMNS[table]:
            if col != "patient_id" and st.find_column(col) is not None:
                block[col] = col
        doc[table] = block
    mapping = parse_mapping(doc, Path(export).parent, None, Path(export).resolve())
    from dataclasses import replace

    return replace(mapping, redcap_dictionary=Path(dictionary).resolve()), src
