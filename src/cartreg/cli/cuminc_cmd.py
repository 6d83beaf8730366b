"""``cartreg cuminc``: cumulative incidence of competing risks and Gray's test on any data file.

The command reads a CSV/Parquet/XLSX file (:mod:`cartreg.io.datafile`), takes a time column and a
status column (``--cens-code``, default 0, for censored; any other code is a cause), optionally a
group column, and reports for each cause and group the cumulative incidence with its log(-log) CI at
``--at`` times (``cmprsk::cuminc`` + ``timepoints``, CIs as ``tidycmprsk``), then Gray's test across
groups. Rows with a missing time, status or group are excluded and counted. ``--format json`` prints
the public JSON shape of issue 3 (extra keys allowed); the default is a readable table.
:func:`cuminc_results` computes the JSON-ready dict; the command only renders it.

Conventions (see ``docs/stats-cuminc.md``):

* without ``--group`` there is one stratum, ``"group": "all"``, and ``"gray": null``;
* default ``--at``: the times ``print.cuminc`` shows, the interior points of R's
  ``pretty(c(0, max time), 5)`` (e.g. 100, 200, 300, 400 when the last time is 424);
* a value that R reports as ``NA`` is ``null``: the CIF after a group's last follow-up time, the CI
  where the CIF is 0, and Gray's test when its variance matrix is singular.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from cartreg.cli._common import json_number as _num
from cartreg.cli._common import parse_at
from cartreg.errors import CartregError






def r_pretty(lo: float, hi: float, n: int = 5) -> list[float]:
    """R's ``pretty(c(lo, hi), n)`` (``pretty.default`` of R 4.2 with its default arguments).

    >>> r_pretty(0, 424)
    [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
    """
    h, h5, shrink, eps = 1.5, 0.5 + 1.5 * 1.5, 0.75, 1e-10
    min_n = n // 3
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u = 1 + ((1 / (1 + h)) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * np.finfo(float).eps
        small = dx < cell * u * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    cell = max(cell, 2.0 ** -20 * np.finfo(float).tiny)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + eps)
    nu = math.ceil(hi / unit - eps)
    while ns * unit > lo + eps * unit:
        ns -= 1
    while nu * unit < hi - eps * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    start, end = ns * unit, nu * unit
    if ndiv == 0:
        return [start]
    by = (end - start) / ndiv
    s = [start + i * by for i in range(ndiv)] + [end]
    return [0.0 if abs(x) < 1e-14 * by else x for x in s]


def default_times(max_time: float) -> list[float]:
    """The times ``print.cuminc`` shows: interior points of ``pretty(c(0, max_time), 5)``."""
    if not (max_time > 0):
        return [0.0]
    p = r_pretty(0.0, float(max_time), 5)
    inner = p[1:-1]
    return inner if inner else [float(max_time)]


def _status(table: Any, column: str, cens_code: str) -> tuple[np.ndarray, Any, list[str]]:
    """The status column (numbers when every code is a number, else text) and the censoring code."""
    col = table.column(column)
    text = table.text(col)
    present = text[~np.equal(text, None)]
    uniq = np.unique(present.astype(str)) if present.size else np.array([], dtype=str)
    notes: list[str] = []
    try:
        np.asarray(uniq, dtype=float)
        numeric = True
    except ValueError:
        numeric = False
    if numeric:
        try:
            code: Any = float(cens_code)
        except ValueError:
            raise CartregError(f"status column {col!r} holds numbers but --cens-code {cens_code!r} "
                               "is not a number") from None
        values: np.ndarray = table.numeric(col)
        found = bool(np.any(values == code))
    else:
        code = cens_code.strip()
        missing = np.equal(text, None)
        values = text.copy()
        values[~missing] = np.char.strip(text[~missing].astype(str)).astype(object)
        found = bool(np.any(values[~missing] == code))
    if not found:
        notes.append(f"note: no row of {col!r} has the censoring code {cens_code!r}: every row is an "
                     "event (use --cens-code for another code)")
    return values, code, notes


def cuminc_results(
    path: str | Path,
    time: str,
    status: str,
    group: str | None = None,
    at: list[float] | None = None,
    conf_level: float = 0.95,
    cens_code: str = "0",
) -> tuple[dict[str, Any], list[str]]:
    """Compute the ``cartreg cuminc`` results (JSON-ready dict) and notes for stderr."""
    from cartreg.io.datafile import read_table
    from cartreg.stats.cuminc import cuminc

    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"--conf-level must be strictly between 0 and 1, got {conf_level}")
    table = read_table(path)
    tcol = table.column(time)
    t = table.numeric(tcol)
    st, code, notes = _status(table, status, cens_code)
    g = table.text(group) if group else None
    fit = cuminc(t, st, g, conf_level=conf_level, cens_code=code)
    if at:
        times = sorted(set(float(x) for x in at))
        times_rule = "given"
    else:  # as print.cuminc: from the largest time of any curve
        times = default_times(max(float(cv.time[-1]) for cv in fit.curves.values()))
        times_rule = "pretty(c(0, max time), 5) interior points, as print.cuminc"
    res: dict[str, Any] = {
        "n": fit.n,
        "excluded": fit.excluded,
        "conf_level": float(conf_level),
        "conf_type": "log-log",
        "cens_code": cens_code,
        "group_column": table.column(group) if group else None,
        "times": times,
        "times_rule": times_rule,
        "causes": [],
    }
    for cause in fit.causes:
        strata = []
        for gname in fit.groups:
            cv = fit.curve(cause, gname)
            a = cv.at(times)
            rows = [{"time": float(a.time[i]), "cif": _num(a.est[i]),
                     "ci": [_num(a.lower[i]), _num(a.upper[i])], "std_err": _num(a.std_err[i])}
                    for i in range(a.time.size)]
            strata.append({"group": gname, "n": cv.n, "events": cv.events, "competing": cv.competing,
                           "at": rows})
        gray: dict[str, Any] | None = None
        if cause in fit.gray:
            gt = fit.gray[cause]
            gray = {"chi2": _num(gt.stat), "df": gt.df, "p": _num(gt.p)}
            if gt.singular:
                gray["note"] = "variance matrix singular: the test cannot be computed (cmprsk reports -1)"
                notes.append(f"note: Gray's test for cause {cause!r}: variance matrix singular, not computed")
        res["causes"].append({
            "cause": cause,
            "events": sum(s["events"] for s in strata),
            "strata": strata,
            "gray": gray,
        })
    if group and len(fit.groups) == 1:
        notes.append(f"note: {group!r} has a single level: no Gray's test")
    return res, notes


# ---- rendering ------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "NA" if x is None else f"{100 * x:.1f}"


def _p(p: float | None) -> str:
    if p is None:
        return "NA"
    return "P<.001" if p < 0.001 else f"P={p:.3f}"


def _time(x: float) -> str:
    return f"{x:g}"


def render_table(res: dict[str, Any]) -> None:
    """Print the results as rich tables (formatting only)."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # labels are data: no markup, no raw control characters (issue 16)
    console = terminal_console()
    pct = f"{res['conf_level'] * 100:g}%"
    console.print(f"Competing risks: n={res['n']}, excluded={res['excluded']} (missing values); "
                  f"{pct} CI, log(-log) transform", soft_wrap=True)
    for c in res["causes"]:
        tab = Table(title=f"Cumulative incidence of {c['cause']}")
        for name in ("group", "n", "events", "time", "CIF", f"{pct} CI"):
            tab.add_column(name, justify="left" if name == "group" else "right")
        for s in c["strata"]:
            for i, r in enumerate(s["at"]):
                first = i == 0
                lo, hi = r["ci"]
                tab.add_row(s["group"] if first else "", str(s["n"]) if first else "",
                            str(s["events"]) if first else "", _time(r["time"]),
                            "NA" if r["cif"] is None else f"{_pct(r['cif'])}%",
                            "NA" if lo is None or hi is None else f"{_pct(lo)}–{_pct(hi)}%",
                            end_section=i == len(s["at"]) - 1)
        console.print(tab)
        g = c["gray"]
        if g is not None:
            if g["chi2"] is None:
                console.print("Gray's test: not computable (singular variance)", soft_wrap=True)
            else:
                console.print(f"Gray's test: chi2 = {g['chi2']:.3f} on {g['df']} df, {_p(g['p'])}",
                              soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``cartreg cuminc`` to the app."""

    @app.command("cuminc")
    def cuminc_command(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        time: str = typer.Option(..., "--time", help="Time column."),
        status: str = typer.Option(..., "--status", help="Status column: 0 = censored, another code per cause."),
        group: str = typer.Option(None, "--group", help="Group column (cell text as written)."),
        at: str = typer.Option(None, "--at", help="Times, comma-separated (default: as print.cuminc)."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        cens_code: str = typer.Option("0", "--cens-code", help="Status code of censored rows."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Cumulative incidence (Aalen-Johansen) with log(-log) CIs and Gray's test, agreeing with R cmprsk."""
        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json")
        res, notes = cuminc_results(data, time, status, group, parse_at(at), conf_level, cens_code)
        from cartreg.textsafe import printable

        for n in notes:
            typer.echo(printable(n), err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(res, allow_nan=False) + "\n")
        else:
            render_table(res)
