"""The registry in DuckDB: reading (CSV, workbook or cartreg .duckdb) and the atomic import.

A cartreg .duckdb file holds the typed tables ``patients, infusions, responses, treatments``, the
``metadata`` table (key, value), ``validation_issues`` and ``rejected_rows``. Reading it does not
re-parse or re-validate anything: it is the re-analysis cache.

Example::

    reg = read_registry("examples/registry")
    reg.con.sql("SELECT count(*) FROM patients").fetchone()
    import_registry("examples/registry", "registry.duckdb", replace=True)
    reg2 = read_registry("registry.duckdb")          # same fingerprint, no re-validation
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field, replace as dc_replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError
from cartreg.io.registry_files import read_registry_files
from cartreg.registry.report import ValidationReport
from cartreg.registry.schema import FORMAT_VERSION, RULES_BY_ID, TABLES, date_columns
from cartreg.registry.validate import cutoff_message, fetch_sorted_issues, validate_raw

TABLE_NAMES = tuple(t.name for t in TABLES)
_DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class RegistryMetadata:
    """Where the data came from and when.

    ``data_cutoff`` is the ``--cutoff`` date, or else the latest date in the data
    (``data_cutoff_inferred`` True); None for a registry without any date.
    """

    format_version: str
    sources: tuple[tuple[str, str], ...]  # (file name, sha256), sorted
    import_time: dt.datetime
    cartreg_version: str
    row_counts: dict[str, int]
    data_cutoff: dt.date | None
    data_cutoff_inferred: bool
    drop_invalid: bool = False
    rejected_patients: int = 0


@dataclass
class Registry:
    """Typed tables in ``con``, the validation report, metadata and a fingerprint of the source files."""

    con: duckdb.DuckDBPyConnection
    report: ValidationReport
    metadata: RegistryMetadata
    path: Path
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.metadata.sources)

    def table(self, name: str) -> pa.Table:
        """A typed table as pyarrow."""
        if name not in TABLE_NAMES:
            raise KeyError(name)
        return self.con.sql(f"SELECT * FROM {name}").to_arrow_table()

    def invalid_patient_ids(self) -> list[str]:
        """Sorted patient_ids with at least one error."""
        errs = self.report.errors.table
        con = duckdb.connect()
        con.register("e", errs)
        ids = con.execute("SELECT DISTINCT patient_id FROM e WHERE patient_id IS NOT NULL ORDER BY 1").fetchall()
        con.close()
        return [r[0] for r in ids]

    def without_invalid_patients(self) -> Registry:
        """A new registry without any row of a patient that has an error (no patient is half-loaded).

        Rows without a patient_id are dropped too (they carry a missing_value error). Its report keeps
        only the issues of the data kept: no errors, and no issue of a patient left out.
        """
        new = duckdb.connect()
        ids = self.invalid_patient_ids()
        bad = pa.table({"patient_id": pa.array(ids, pa.string())})
        cur = self.con.cursor()  # own cursor: the caller may have a result open on con
        cur.register("__bad", bad)
        try:
            for name in TABLE_NAMES:
                data = cur.sql(
                    f"SELECT * FROM {name} WHERE patient_id IS NOT NULL "
                    "AND patient_id NOT IN (SELECT patient_id FROM __bad) ORDER BY _row"
                ).to_arrow_table()
                new.register("__t", data)
                new.execute(f"CREATE TABLE {name} AS SELECT * FROM __t")
                new.unregister("__t")
        finally:
            cur.unregister("__bad")
            cur.close()
        counts = _row_counts(new)
        meta = dc_replace(self.metadata, row_counts=counts, drop_invalid=True, rejected_patients=bad.num_rows)
        return Registry(new, _report_without(self.report, ids), meta, self.path, self.fingerprint)


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_registry` wrote."""

    out: Path
    report: ValidationReport
    metadata: RegistryMetadata
    rejected_patients: int


class RegistryInvalidError(CartregError):
    """The registry has errors and was not imported (exit 1). ``report`` lists them."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message, 1)
        self.report = report


def fingerprint(sources: tuple[tuple[str, str], ...]) -> str:
    """SHA-256 over the sorted (file name, file sha256) pairs: the same for a directory and its import."""
    h = hashlib.sha256()
    for name, sha in sorted(sources):
        h.update(f"{name}\t{sha}\n".encode())
    return h.hexdigest()


def _cartreg_version() -> str:
    from cartreg import __version__

    return __version__


def _parse_cutoff(cutoff: dt.date | str | None) -> dt.date | None:
    if cutoff is None or isinstance(cutoff, dt.date):
        return cutoff
    try:
        return dt.date.fromisoformat(str(cutoff))
    except ValueError as exc:
        raise CartregError(f"--cutoff '{cutoff}' is not a date (expected YYYY-MM-DD)", 2) from exc


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {n})" for n in TABLE_NAMES)
    return dict(zip(TABLE_NAMES, (int(x) for x in con.execute(sql).fetchall()[0])))


def _latest_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The latest date in any date column (the inferred data cut-off), None without dates."""
    parts = [f"(SELECT max({col}) FROM {t.name})" for t in TABLES for col in date_columns(t)]
    maxes = [m for m in con.execute("SELECT " + ", ".join(parts)).fetchall()[0] if m is not None]
    return max(maxes) if maxes else None


def is_duckdb_file(path: Path) -> bool:
    """True for a DuckDB database file (magic bytes, whatever the suffix)."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[8:12] == _DUCKDB_MAGIC


def read_registry(path: str | Path, cutoff: dt.date | str | None = None, verify: bool = False,
                  mapping: str | Path | None = None, redcap_dictionary: str | Path | None = None) -> Registry:
    """Read a registry from a CSV directory, an .xlsx workbook or a cartreg .duckdb file.

    With ``mapping`` (a mapping TOML file) or ``redcap_dictionary`` (an export of the template REDCap
    project), ``path`` is any source (see :mod:`cartreg.io.mapping`) and every issue names the source.

    CSV and workbook input is parsed and validated here; a .duckdb file is opened as stored (with
    its stored report), and only the cut-off rule is re-run when ``cutoff`` is given.
    Raises CartregError (exit 2) for unusable input; data errors are in ``registry.report``.
    With ``verify`` (``cartreg validate``), every block of a .duckdb file is read once, so a
    damaged file is found now rather than by the query that first touches the damaged block.
    """
    path = Path(path)
    cut = _parse_cutoff(cutoff)
    if path.is_file() and is_duckdb_file(path):
        return _open_duckdb(path, cut, verify)
    mapped = None
    if mapping is not None or redcap_dictionary is not None:  # issue 11: a source through a mapping
        from cartreg.io.mapping import read_mapped

        mapped = read_mapped(path, mapping, redcap_dictionary)
        raw = mapped.raw
    else:
        raw = read_registry_files(path)
    con = duckdb.connect()
    try:
        report = validate_raw(con, raw, cut)
        if mapped is not None:
            from cartreg.io.mapping import relabel_issues

            report = ValidationReport(relabel_issues(report.table, mapped), str(path))
    except BaseException:
        con.close()  # no connection left open to the interpreter's exit
        raise
    latest = _latest_date(con)
    meta = RegistryMetadata(
        format_version=FORMAT_VERSION,
        sources=raw.sources,
        import_time=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        cartreg_version=_cartreg_version(),
        row_counts=_row_counts(con),
        data_cutoff=cut if cut is not None else latest,
        data_cutoff_inferred=cut is None,
    )
    return Registry(con, report, meta, path)


# ---------------------------------------------------------------------------------- .duckdb files


def _metadata_rows(meta: RegistryMetadata, fp: str) -> list[tuple[str, str]]:
    return [
        ("format_version", meta.format_version),
        ("cartreg_version", meta.cartreg_version),
        ("import_time", meta.import_time.isoformat()),
        ("sources", json.dumps([{"name": n, "sha256": s} for n, s in meta.sources])),
        ("fingerprint", fp),
        ("row_counts", json.dumps(meta.row_counts)),
        ("data_cutoff", meta.data_cutoff.isoformat() if meta.data_cutoff else ""),
        ("data_cutoff_inferred", "true" if meta.data_cutoff_inferred else "false"),
        ("drop_invalid", "true" if meta.drop_invalid else "false"),
        ("rejected_patients", str(meta.rejected_patients)),
    ]


def _metadata_from_rows(rows: dict[str, str]) -> RegistryMetadata:
    cut = rows.get("data_cutoff") or ""
    return RegistryMetadata(
        format_version=rows["format_version"],
        sources=tuple((s["name"], s["sha256"]) for s in json.loads(rows["sources"])),
        import_time=dt.datetime.fromisoformat(rows["import_time"]),
        cartreg_version=rows["cartreg_version"],
        row_counts={k: int(v) for k, v in json.loads(rows["row_counts"]).items()},
        data_cutoff=dt.date.fromisoformat(cut) if cut else None,
        data_cutoff_inferred=rows.get("data_cutoff_inferred") == "true",
        drop_invalid=rows.get("drop_invalid") == "true",
        rejected_patients=int(rows.get("rejected_patients") or 0),
    )


def _open_duckdb(path: Path, cutoff: dt.date | None, verify: bool = False) -> Registry:
    con = duckdb.connect()
    try:
        reg = _open_duckdb_on(con, path, cutoff)
        if verify:
            verify_stored(con)
        return reg
    except CartregError:
        con.close()
        raise
    except duckdb.InterruptException:
        con.close()
        raise
    except duckdb.Error as exc:  # a damaged file fails while its tables are read
        con.close()
        raise CartregError(f"{path}: the DuckDB file is damaged ({str(exc).splitlines()[0]})", 2) from exc
    except BaseException:
        con.close()
        raise


def verify_stored(con: duckdb.DuckDBPyConnection) -> None:
    """Read every row of every stored table (DuckDB checks each block's checksum as it reads it)."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' ORDER BY 1").fetchall()]
    for name in names:
        con.execute(f'SELECT bit_xor(hash(x)) FROM src."{name}" AS x').fetchall()


def _damaged(path: Path, what: str) -> CartregError:
    return CartregError(f"{path}: not a valid cartreg registry ({what}); import it again", 2)


def _check_stored_types(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Every schema column is stored with its type (an edited file may have changed one)."""
    stored = {(t, c): ty for t, c, ty in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = 'src'").fetchall()}
    for t in TABLES:
        for c in t.columns:
            ty = stored.get((t.name, c.name))
            if ty is None:
                raise _damaged(path, f"column {t.name}.{c.name} is missing")
            if ty != c.sql_type:
                raise _damaged(path, f"column {t.name}.{c.name} is {ty}, expected {c.sql_type}")


def _open_duckdb_on(con: duckdb.DuckDBPyConnection, path: Path, cutoff: dt.date | None) -> Registry:
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(path)])
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()}
    except duckdb.Error as exc:
        raise CartregError(f"{path}: cannot open the DuckDB file ({str(exc).splitlines()[0]})", 2) from exc
    missing = [t for t in (*TABLE_NAMES, "metadata", "validation_issues") if t not in tables]
    if missing:
        raise CartregError(f"{path}: not a cartreg registry (missing tables: {', '.join(missing)})", 2)
    _check_stored_types(con, path)
    for name in (*TABLE_NAMES, "validation_issues", "rejected_rows"):
        if name in tables:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM src.{name}")
    try:
        rows = {str(k): v for k, v in con.execute("SELECT key, value FROM src.metadata").fetchall()}
    except duckdb.Error as exc:
        raise _damaged(path, f"unreadable metadata: {str(exc).splitlines()[0]}") from exc
    if rows.get("format_version") != FORMAT_VERSION:
        raise CartregError(f"{path}: registry format version {rows.get('format_version')!r} is not supported", 2)
    try:
        meta = _metadata_from_rows(rows)
    except KeyError as exc:
        raise _damaged(path, f"metadata key {exc.args[0]!r} is missing") from exc
    except (ValueError, TypeError, AttributeError) as exc:  # json.JSONDecodeError is a ValueError
        raise _damaged(path, f"metadata cannot be read: {type(exc).__name__}: {exc}") from exc
    counts = _row_counts(con)
    if counts != {t: meta.row_counts.get(t) for t in TABLE_NAMES}:
        raise _damaged(path, f"row counts {counts} differ from those recorded at import {meta.row_counts}")
    issues_sql = "validation_issues"
    if cutoff is not None:
        # Only the cut-off rule depends on the reader's options: re-run it on the typed tables.
        con.execute("CREATE TEMP TABLE issues AS SELECT * FROM validation_issues WHERE rule <> 'date_after_cutoff'")
        _insert_cutoff_issues(con, cutoff, meta)
        issues_sql = "issues"
        meta = dc_replace(meta, data_cutoff=cutoff, data_cutoff_inferred=False)
    order = [_stored_label(meta, t) for t in TABLE_NAMES]
    report = ValidationReport(fetch_sorted_issues(con, issues_sql, order), str(path))
    return Registry(con, report, meta, path, rows.get("fingerprint") or "")


def _insert_cutoff_issues(con: duckdb.DuckDBPyConnection, cutoff: dt.date, meta: RegistryMetadata) -> None:
    """The ``date_after_cutoff`` warnings (the analysis ignores those records; docs/endpoints.md)."""
    severity = RULES_BY_ID["date_after_cutoff"].severity
    for t in TABLES:
        label = _stored_label(meta, t.name)
        for col in date_columns(t):
            con.execute(
                "INSERT INTO issues (severity, file, \"row\", \"column\", value, rule, message, patient_id) "
                "SELECT ?, ?, _row, ?, CAST(" + col + " AS VARCHAR), 'date_after_cutoff', "
                "printf(?, " + col + ", ?::DATE), patient_id FROM " + t.name + " WHERE " + col + " > ?::DATE",
                [severity, label, col, cutoff_message(col), cutoff, cutoff],
            )


def _stored_label(meta: RegistryMetadata, table: str) -> str:
    """The file label of a stored table: ``patients.csv`` or ``book.xlsx[patients]``."""
    names = [n for n, _ in meta.sources]
    if len(names) == 1 and names[0].lower().endswith((".xlsx", ".xlsm")):
        return f"{names[0]}[{table}]"
    return next((n for n in names if n.lower() == f"{table}.csv"), f"{table}.csv")


# ------------------------------------------------------------------------------------ the import


def _write_store(reg: Registry, target: Path, rejected: pa.Table) -> None:
    """Write every table of ``reg`` (and its report as ``validation_issues``) into a new DuckDB file."""
    con = reg.con.cursor()  # own cursor: the caller may have a result open on reg.con
    con.execute("ATTACH ? AS out", [str(target)])
    try:
        for name in TABLE_NAMES:
            con.execute(f"CREATE TABLE out.{name} AS SELECT * FROM {name}")  # already in _row order
        con.register("__issues", reg.report.table)
        con.execute("CREATE TABLE out.validation_issues AS SELECT * FROM __issues")
        con.unregister("__issues")
        con.register("__rejected", rejected)
        con.execute("CREATE TABLE out.rejected_rows AS SELECT * FROM __rejected")
        con.unregister("__rejected")
        con.execute("CREATE TABLE out.metadata (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.executemany("INSERT INTO out.metadata VALUES (?, ?)", _metadata_rows(reg.metadata, reg.fingerprint))
        con.execute("CHECKPOINT out")  # everything in the main file: no .wal may be left beside it
    finally:
        con.execute("DETACH out")
        con.close()


def _report_without(report: ValidationReport, rejected_ids: list[str]) -> ValidationReport:
    """The report less its errors and less every issue of a rejected patient."""
    t = report.table
    keep = pc.and_(
        pc.not_equal(t.column("severity"), "error"),
        pc.or_kleene(pc.is_null(t.column("patient_id")),
                     pc.invert(pc.is_in(t.column("patient_id"), pa.array(rejected_ids, pa.string())))),
    )
    return ValidationReport(t.filter(keep), report.path)


def _rejected_rows(report: ValidationReport) -> pa.Table:
    """One row per error: the patient left out, where, and why."""
    e = report.errors.table
    return pa.table({
        "patient_id": e.column("patient_id"),
        "file": e.column("file"),
        "row": e.column("row"),
        "column": e.column("column"),
        "value": e.column("value"),
        "rule": e.column("rule"),
        "reason": e.column("message"),
    })


def _remove_quietly(p: Path) -> None:
    for q in (p, Path(str(p) + ".wal")):
        try:
            q.unlink()
        except FileNotFoundError:
            pass
        except OSError:  # cleaning up after a failure must not hide the failure
            pass


# ------------------------------------------------------------------- temporaries and publishing
# A temporary store is named ``.<out name>.<pid>.<random>.tmp`` beside ``out`` (same filesystem), so
# that the temporaries of a process that died (SIGKILL, power loss) can be recognised and removed.

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp(?:\.wal)?$")


def temp_path(out: Path) -> Path:
    """A new temporary name for building ``out``: ``.<name>.<pid>.<8 hex>.tmp`` in its directory."""
    return out.parent / f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True
    return True


def stale_temporaries(out: str | Path) -> list[Path]:
    """Temporaries (and their ``.wal``) left beside ``out`` by import processes that no longer run.

    They hold real patient rows: :func:`import_registry` removes them; ``validate`` names them.
    """
    out = Path(out)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    stale = []
    for p in entries:
        m = _TEMP_RE.match(p.name)
        if m and m.group("name") == out.name and not _pid_alive(int(m.group("pid"))):
            stale.append(p)
    return sorted(stale)


def remove_stale_temporaries(out: str | Path) -> list[Path]:
    """Remove the stale temporaries of ``out`` (see :func:`stale_temporaries`); return those removed."""
    removed = []
    for p in stale_temporaries(out):
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
        except OSError:
            pass
    return removed


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _rename_noreplace(src: Path, dst: Path) -> bool:
    """``renameat2(RENAME_NOREPLACE)``: True when done; False when the system cannot do it.

    Raises FileExistsError when ``dst`` exists (the check and the rename are one atomic step).
    """
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dst))
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # filesystem or kernel without the flag
    raise OSError(err, os.strerror(err), str(dst))


def publish(tmp: Path, out: Path, replace: bool) -> None:
    """Move the finished ``tmp`` onto ``out`` in one atomic step.

    With ``replace``, ``os.replace``. Without it, the existence check and the move are one step
    (``renameat2`` with ``RENAME_NOREPLACE``, else ``link`` then ``unlink`` of the temporary): when two
    imports race to the same new file, exactly one wins and the other gets a CartregError (exit 2);
    nothing is lost silently.
    """
    if replace:
        os.replace(tmp, out)
        return
    try:
        if not _rename_noreplace(tmp, out):
            os.link(tmp, out)
            os.unlink(tmp)
    except FileExistsError:
        raise CartregError(f"{out} was created by another process while this one was writing it; "
                           "it was left as it is (use --replace to overwrite it)", 2) from None


def _write_error(out: Path, exc: BaseException) -> CartregError:
    text = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return CartregError(f"{out}: cannot write the file ({text}); nothing was written", 2)


def atomic_build(out: Path, build, replace: bool = False) -> None:
    """Run ``build(tmp_path)`` then publish the result onto ``out`` (see :func:`publish`).

    The temp file sits in ``out``'s directory (same filesystem), named with this process's id. On
    any failure, including KeyboardInterrupt and SIGTERM (the CLI turns it into an exception), the
    temp file is removed and an existing ``out`` is untouched. A write error (read-only directory,
    disk full) is a CartregError (exit 2).
    """
    out = Path(out)
    if out.is_dir():
        raise CartregError(f"{out}: is a directory", 2)
    if out.exists() and not replace:
        raise CartregError(f"{out} already exists; use --replace to overwrite it", 2)
    if not out.parent.exists():
        raise CartregError(f"{out.parent}: no such directory", 2)
    if not out.parent.is_dir():
        raise CartregError(f"{out.parent}: is not a directory", 2)
    tmp = temp_path(out)
    try:
        build(tmp)
        publish(tmp, out, replace)
    except CartregError:
        _remove_quietly(tmp)
        raise
    except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
        _remove_quietly(tmp)
        raise _write_error(out, exc) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    _remove_quietly(tmp)  # a leftover .wal of the temp name, if any


def import_registry(
    path: str | Path,
    out: str | Path,
    cutoff: dt.date | str | None = None,
    drop_invalid: bool = False,
    replace: bool = False,
    on_stale=None,
    mapping: str | Path | None = None,
    redcap_dictionary: str | Path | None = None,
) -> ImportResult:
    """Validate a registry and write it into one DuckDB file, atomically.

    Raises :class:`RegistryInvalidError` (exit 1, with the report) when there are errors and
    ``drop_invalid`` is False; with ``drop_invalid`` every patient with an error is left out with all
    of their rows and listed in ``rejected_rows``. Refuses to overwrite ``out`` unless ``replace``.
    Stale temporaries of ``out`` left by a killed import are removed first; ``on_stale(paths)`` is
    told which.
    """
    out = Path(out)
    if out.is_dir():
        raise CartregError(f"{out}: is a directory (give the .duckdb file to write)", 2)
    if out.exists() and not replace:
        raise CartregError(f"{out} already exists; use --replace to overwrite it", 2)
    if not out.parent.is_dir():  # fail before the (long) validation
        raise CartregError(f"{out.parent}: no such directory", 2)
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise CartregError(f"{out.parent}: the directory is not writable", 2)
    if Path(path).resolve() == out.resolve():
        raise CartregError(f"{out}: the output would overwrite the input", 2)
    removed = remove_stale_temporaries(out)
    if removed and on_stale is not None:
        on_stale(removed)
    reg = read_registry(path, cutoff=cutoff, mapping=mapping, redcap_dictionary=redcap_dictionary)
    if reg.report.has_errors and not drop_invalid:
        n = reg.report.count("error")
        raise RegistryInvalidError(f"{path}: {n} errors; not imported (fix them, or use --drop-invalid)", reg.report)
    rejected = _rejected_rows(reg.report)
    if drop_invalid and reg.report.has_errors:
        # The stored report describes the stored data: the errors (and the issues of the patients left
        # out) move to rejected_rows.
        kept = reg.without_invalid_patients()
    else:
        kept = dc_replace(reg, metadata=dc_replace(reg.metadata, drop_invalid=drop_invalid))
        rejected = rejected.slice(0, 0)
    if reg.metadata.data_cutoff_inferred:
        latest = _latest_date(kept.con)
        kept = dc_replace(kept, metadata=dc_replace(kept.metadata, data_cutoff=latest))
    atomic_build(out, lambda tmp: _write_store(kept, tmp, rejected), replace=replace)
    return ImportResult(out, reg.report, kept.metadata, kept.metadata.rejected_patients)
