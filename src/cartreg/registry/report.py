"""The validation report: every problem found in a registry, kept as a columnar table.

A report is data first (like ``survcheck``): a pyarrow table with one row per issue, so 10^6 issues
are one table, not 10^6 Python objects. ``to_json`` and ``to_text`` are views of that table.

Example::

    report = read_registry("examples/registry").report
    report.has_errors, report.counts_by_rule()
    for issue in report.errors: print(issue.file, issue.row, issue.column, issue.message)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from cartreg.registry.schema import SEVERITIES
from cartreg.textsafe import markup_safe, printable

#: Column order and types of the issue table (also the stored ``validation_issues`` table).
ISSUE_SCHEMA = pa.schema(
    [
        ("severity", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("rule", pa.string()),
        ("message", pa.string()),
        ("patient_id", pa.string()),
    ]
)
#: The report's table: the issue columns plus ``target_column``, the exchange-format column (equal to
#: ``column`` except for a registry read through a mapping, where ``column`` is the source header).
REPORT_SCHEMA = ISSUE_SCHEMA.append(pa.field("target_column", pa.string()))


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, spreadsheet row, column), what (value, rule) and why (message).

    ``row`` is None for a problem with a whole file (e.g. a missing optional file); ``row`` 1 is the
    header (e.g. an unknown column).
    """

    severity: str
    file: str | None
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str
    patient_id: str | None
    target_column: str | None = None


class ValidationReport:
    """Every issue found in one registry, in order: severity, file, row."""

    def __init__(self, table: pa.Table, path: str = "") -> None:
        if "target_column" not in table.column_names:
            table = table.append_column("target_column", table.column("column"))
        self.table: pa.Table = table.select(REPORT_SCHEMA.names).cast(REPORT_SCHEMA)
        self.path = path

    # -- selections -------------------------------------------------------------------------------
    def _where(self, severity: str) -> ValidationReport:
        mask = pc.equal(self.table.column("severity"), severity)
        return ValidationReport(self.table.filter(mask), self.path)

    @property
    def errors(self) -> ValidationReport:
        return self._where("error")

    @property
    def warnings(self) -> ValidationReport:
        return self._where("warning")

    @property
    def notes(self) -> ValidationReport:
        return self._where("note")

    def by_rule(self, rule: str) -> ValidationReport:
        return ValidationReport(self.table.filter(pc.equal(self.table.column("rule"), rule)), self.path)

    @property
    def has_errors(self) -> bool:
        return self.count("error") > 0

    def count(self, severity: str) -> int:
        return int(pc.sum(pc.equal(self.table.column("severity"), severity)).as_py() or 0)

    def counts_by_rule(self) -> dict[str, int]:
        """Number of issues per rule id, most frequent first (ties by rule id)."""
        if self.table.num_rows == 0:
            return {}
        counts = self.table.group_by("rule").aggregate([("rule", "count")]).to_pylist()
        ordered = sorted(counts, key=lambda r: (-r["rule_count"], r["rule"]))
        return {r["rule"]: int(r["rule_count"]) for r in ordered}

    def summary(self) -> dict:
        return {
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "notes": self.count("note"),
            "by_rule": self.counts_by_rule(),
        }

    # -- Python view ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.table.num_rows

    def __iter__(self) -> Iterator[Issue]:
        for batch in self.table.to_batches(max_chunksize=10_000):
            for row in batch.to_pylist():
                yield Issue(**row)

    def __repr__(self) -> str:
        s = self.summary()
        return f"ValidationReport({s['errors']} errors, {s['warnings']} warnings, {s['notes']} notes)"

    # -- serialisations ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"path": self.path, "summary": self.summary(), "issues": self.table.to_pylist()}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    def to_text(self, limit: int | None = 20, width: int = 120) -> str:
        """The report as a plain-text table (see :func:`render_text`)."""
        from io import StringIO

        from rich.console import Console

        buf = StringIO()
        console = Console(file=buf, width=width, force_terminal=False, color_system=None)
        render_text(self, console, limit)
        return buf.getvalue()


def first_per_rule(table: pa.Table, limit: int | None) -> pa.Table:
    """The first ``limit`` issues of each rule (all of them when ``limit`` is None), in report order."""
    if limit is None or table.num_rows == 0:
        return table
    rules = table.column("rule").to_numpy(zero_copy_only=False)
    import numpy as np

    order = np.argsort(rules, kind="stable")
    sorted_rules = rules[order]
    starts = np.r_[0, np.flatnonzero(sorted_rules[1:] != sorted_rules[:-1]) + 1]
    rank = np.arange(len(rules)) - np.repeat(starts, np.diff(np.r_[starts, len(rules)]))
    keep = np.zeros(len(rules), bool)
    keep[order[rank < limit]] = True
    return table.filter(pa.array(keep))


#: Above this many listed issues, lines are printed plain: a rich table of 10^5 rows takes minutes.
PLAIN_ABOVE = 2000


def _plain_lines(table: pa.Table, severity: str, total: int, console) -> None:
    """One tab-separated line per issue: ``file:row  column  value  rule  message``."""
    console.print(f"{severity}s ({total})")
    out = console.file
    for r in table.to_pylist():
        where = (r["file"] or "") if r["row"] is None else f"{r['file']}:{r['row']}"
        fields = (where, r["column"] or "", r["value"] or "", r["rule"], r["message"] or "")
        out.write("\t".join(printable(f) for f in fields) + "\n")


def render_text(report: ValidationReport, console, limit: int | None = 20) -> None:
    """Print a report with rich: a summary, counts per rule, then issues grouped by severity.

    With ``limit`` only the first ``limit`` issues of each rule are listed, so a report with 10^5
    issues stays readable; ``limit=None`` lists every issue.
    """
    from rich.table import Table

    s = report.summary()
    head = f"{markup_safe(report.path)}: " if report.path else ""
    console.print(f"{head}{s['errors']} errors, {s['warnings']} warnings, {s['notes']} notes")
    if len(report) == 0:
        return
    counts = Table(title="Issues per rule", show_edge=False)
    for col in ("severity", "rule", "count"):
        counts.add_column(col, justify="right" if col == "count" else "left")
    for sev in SEVERITIES:
        for rule, n in report._where(sev).counts_by_rule().items():
            counts.add_row(sev, markup_safe(rule), str(n))
    console.print(counts)
    shown_total = 0
    for sev in SEVERITIES:
        part = report._where(sev)
        if len(part) == 0:
            continue
        shown = first_per_rule(part.table, limit)
        shown_total += shown.num_rows
        if shown.num_rows > PLAIN_ABOVE:
            _plain_lines(shown, sev, len(part), console)
            continue
        t = Table(title=f"{sev}s ({len(part)})", show_edge=False, show_lines=False)
        for col in ("file", "row", "column", "value", "rule", "message"):
            t.add_column(col, overflow="fold")
        for r in shown.to_pylist():
            value = r["value"] if r["value"] is None or len(r["value"]) <= 40 else r["value"][:37] + "..."
            # data never reaches the terminal as markup or raw control characters (issue 16)
            t.add_row(markup_safe(r["file"] or ""), "" if r["row"] is None else str(r["row"]),
                      markup_safe(r["column"] or ""), "" if value is None else markup_safe(value),
                      markup_safe(r["rule"]), markup_safe(r["message"] or ""))
        console.print(t)
    if shown_total < len(report):
        console.print(
            f"showing the first {limit} issues of each rule ({shown_total} of {len(report)}); "
            "use --all to list every issue, or --format json"
        )
