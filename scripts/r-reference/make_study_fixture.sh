#!/usr/bin/env bash
# Rebuild the study cross-check fixture: a synthetic registry (seed 11, 977 patients), cartreg's
# derived endpoint tables, and R's numbers from them. Needs R with survival, cmprsk, jsonlite.
#   endpoints.csv / r_reference.json: the endpoint rules before issue 10 (the old-behaviour parameters);
#   endpoints_new_rules.csv / r_reference_new_rules.json: the default rules of issue 10.
# With --keep-registry the committed registry is kept (only the endpoint tables and R numbers are redone).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" != "--keep-registry" ]; then
  rm -rf tests/fixtures/study/registry
  .venv/bin/cartreg synth --patients 977 --seed 11 -o tests/fixtures/study/registry
fi
old_rules="--failure-treatment-window-days 0 --pfs-censoring last-contact --no-lymphoma-death-as-failure --line-window-days 0 --min-class-size 1 --class-map tests/fixtures/classes/treatment_classes_before_issue10.csv --class-precedence bispecific,IMiD,targeted,anti-PD1,chemotherapy,radiotherapy"
for variant in old new; do
  tmp=$(mktemp -d)
  if [ "$variant" = old ]; then flags=$old_rules; csv=endpoints.csv; json=r_reference.json; mcs=1
  else flags=""; csv=endpoints_new_rules.csv; json=r_reference_new_rules.json; mcs=5; fi
  # shellcheck disable=SC2086
  .venv/bin/cartreg analyze tests/fixtures/study/registry -o "$tmp" --no-report $flags >/dev/null
  .venv/bin/python - "$tmp/patients.csv" "tests/fixtures/study/$csv" <<'PY'
import sys, pyarrow.csv as c
cols = ["patient_id", "late", "tx_status", "tx_class", "os2_days", "os2_event", "pfs2_days", "pfs2_event",
        "os2_treated_days", "os2_treated_event", "cif_days", "cif_status"]
c.write_csv(c.read_csv(sys.argv[1]).select(cols), sys.argv[2])
PY
  rm -rf "$tmp"
  Rscript scripts/r-reference/late_failure_study.R "tests/fixtures/study/$csv" "tests/fixtures/study/$json" "$mcs"
done
