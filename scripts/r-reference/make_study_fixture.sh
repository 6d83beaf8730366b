#!/usr/bin/env bash
# Rebuild the study cross-check fixture: a synthetic registry (seed 11, 977 patients), cartreg's
# derived endpoint table, and R's numbers from that table. Needs R with survival, cmprsk, jsonlite.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf tests/fixtures/study/registry
.venv/bin/cartreg synth --patients 977 --seed 11 -o tests/fixtures/study/registry
tmp=$(mktemp -d)
.venv/bin/cartreg analyze tests/fixtures/study/registry -o "$tmp" --no-report >/dev/null
.venv/bin/python - "$tmp/patients.csv" <<'PY'
import sys, pyarrow.csv as c
cols = ["patient_id", "late", "tx_status", "tx_class", "os2_days", "os2_event", "pfs2_days", "pfs2_event",
        "os2_treated_days", "os2_treated_event", "cif_days", "cif_status"]
c.write_csv(c.read_csv(sys.argv[1]).select(cols), "tests/fixtures/study/endpoints.csv")
PY
rm -rf "$tmp"
Rscript scripts/r-reference/late_failure_study.R
