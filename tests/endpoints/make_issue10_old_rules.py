"""Write tests/fixtures/issue10/old_rules.json: the answers of the code *before* issue 10.

The endpoint table and the late-failure results of the rule registries (tests/issue10_registry.py), as
the code of commit d9efbe5 (the last one before issue 10) gives them, and the same for the random
registry ``random_registry()`` (150 patients). Run it on that code, once::

    git archive d9efbe5 src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src:tests .venv/bin/python tests/endpoints/make_issue10_old_rules.py

test_issue10_old_rules.py checks that today's code with the old-behaviour parameters gives the same.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import cartreg
from cartreg.endpoints import derive_endpoints
from cartreg.study import analyze

from issue10_registry import random_registry, registry

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "issue10" / "old_rules.json"


def _plain(v):
    return v.isoformat() if isinstance(v, dt.date) else v


def main() -> None:
    assert "/src/cartreg/" in cartreg.__file__, cartreg.__file__
    ep = derive_endpoints(registry())
    table = [{k: _plain(v) for k, v in r.items()} for r in ep.patients.to_pylist()]
    rnd = derive_endpoints(random_registry())
    random_table = [{k: _plain(v) for k, v in r.items()} for r in rnd.patients.to_pylist()]
    random_results = analyze(SimpleNamespace(con=random_registry()))
    random_results.pop("meta")
    results = analyze(SimpleNamespace(con=registry()))
    results.pop("meta")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"made_by": "cartreg before issue 10 (commit d9efbe5)", "endpoints": table,
                               "results": results, "random_endpoints": random_table,
                               "random_results": random_results}, indent=None, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(table)} patients, cartreg from {cartreg.__file__}")


if __name__ == "__main__":
    main()
