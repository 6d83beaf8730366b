"""DuckDB's own typed read (and write) of a registry's CSV files: the reference of ``make bench``.

Run as a fresh process, like every ``cartreg`` command the harness measures, so both sides pay for
an interpreter and their imports. Each of the four CSV files is read by DuckDB's ``read_csv`` (type
detection, typed columns) into a table:

* ``--mode read``: into an in-memory database (the typed read ``cartreg validate`` is compared with);
* ``--mode write``: into a new DuckDB file, checkpointed (the read + write ``cartreg import`` and
  ``cartreg analyze`` are compared with).

    python benchmarks/duckdb_reference.py REGISTRY_DIR --mode write --db /tmp/ref.duckdb --json out.json

Prints and (with ``--json``) writes the seconds of each phase and the row counts.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402

T_IMPORTS = time.perf_counter()
TABLES = ("patients", "infusions", "responses", "treatments")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registry", type=Path, help="directory of the four registry CSV files")
    ap.add_argument("--mode", choices=("read", "write"), default="read")
    ap.add_argument("--db", type=Path, help="--mode write: the DuckDB file to create (replaced)")
    ap.add_argument("--json", type=Path, help="write the timings here")
    args = ap.parse_args()
    if args.mode == "write":
        if args.db is None:
            ap.error("--mode write needs --db")
        args.db.unlink(missing_ok=True)
        con = duckdb.connect(str(args.db))
    else:
        con = duckdb.connect()
    rows = {}
    t0 = time.perf_counter()
    for name in TABLES:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv(?)", [str(args.registry / f"{name}.csv")])
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    if args.mode == "write":
        con.execute("CHECKPOINT")
    con.close()
    t1 = time.perf_counter()
    seconds = {"imports": T_IMPORTS - T_START, args.mode: t1 - t0, "total_in_process": t1 - T_START}
    print(json.dumps({"seconds": seconds, "rows": rows}))
    if args.json:
        args.json.write_text(json.dumps({"seconds": seconds, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
