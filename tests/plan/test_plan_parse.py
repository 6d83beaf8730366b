"""Plan files: validation messages (one line, exit 2, naming the problem and what exists) and the where filter."""

from __future__ import annotations

import duckdb
import pytest

from cartreg.errors import CartregError
from cartreg.study import load_plan, shipped_plans
from cartreg.study.plan import SurvivalBlock, compile_where, parse_plan, parse_plan_text

HEAD = '[study]\nname = "t"\npopulation = "infused"\n'


def err(text: str) -> CartregError:
    with pytest.raises(CartregError) as info:
        parse_plan_text(text, source="p.toml")
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
    return info.value


def test_issue_example_parses():
    plan = parse_plan_text('''
[study]
name = "product-outcomes"
title = "Outcomes after CAR T by product"
population = "infused"

[[table]]
by = "product"
variables = ["age", "sex", "histology", "stage", "aaipi", "ecog", "ldh_elevated", "bulky", "bridging"]

[[survival]]
endpoint = "os_infusion"
by = "product"
reference = "axi-cel"
landmarks_months = [6, 12, 24]
adjust = ["age", "ecog", "ldh_elevated"]

[[cuminc]]
endpoint = "relapse_nrm"
by = "product"
times_months = [3, 6, 12]

[[model]]
kind = "logistic"
outcome = "late"
covariates = ["age", "histology", "ldh_elevated", "bridging", "product"]
''')
    assert [b.kind for b in plan.blocks] == ["table", "survival", "cuminc", "model"]
    s = plan.blocks[1]
    assert isinstance(s, SurvivalBlock)
    assert (s.reference, s.landmarks_months, s.adjust) == ("axi-cel", (6.0, 12.0, 24.0), ("age", "ecog", "ldh_elevated"))


def test_blocks_keep_document_order_across_kinds():
    plan = parse_plan_text(HEAD + '[[survival]]\nendpoint = "os2"\n[[cuminc]]\nendpoint = "relapse_nrm"\n'
                           '[[survival]]\nendpoint = "dor"\n')
    assert [(b.kind, b.endpoint) for b in plan.blocks] == [("survival", "os2"), ("cuminc", "relapse_nrm"),
                                                          ("survival", "dor")]


@pytest.mark.parametrize("text, needle", [
    (HEAD + '[[survival]]\nendpoint = "os"\n', "unknown time-to-event endpoint 'os'; endpoints are dor, os2"),
    (HEAD + '[[survival]]\nendpoint = "os2"\nby = "prodcut"\n', "unknown column 'prodcut' in by; catalogue columns are"),
    (HEAD + '[[survival]]\nendpoint = "os2"\nlandmark = [6]\n', "unknown key 'landmark'; keys are endpoint, by, reference, landmarks_months"),
    (HEAD + '[[cuminc]]\nendpoint = "os2"\n', "unknown competing-risks endpoint 'os2'; endpoints are failure_death, relapse_nrm"),
    (HEAD + '[[model]]\nkind = "probit"\noutcome = "late"\ncovariates = ["age"]\n', "unknown model kind 'probit'"),
    (HEAD + '[[table]]\nby = "product"\nvariables = ["age", "weight"]\n', "unknown column 'weight' in variables"),
    ('[study]\nname = "t"\npopulation = "treated"\n[[survival]]\nendpoint = "os2"\n',
     "unknown population 'treated'; cohort flags are registered, infused, failed, early, late, treated_after_failure"),
    ('[study]\nname = "t"\nwhere = "product = \'yescarta\'"\n[[survival]]\nendpoint = "os2"\n',
     "unknown level 'yescarta' of product; levels are axi-cel"),
    ('[study]\nname = "t"\nwhere = "late and weight > 3"\n[[survival]]\nendpoint = "os2"\n', "unknown column 'weight'"),
    (HEAD + '[parameters]\nconf_typ = "log"\n[[survival]]\nendpoint = "os2"\n', "unknown parameter 'conf_typ'; parameters are conf_type"),
    (HEAD + '[parameters]\nconf_type = "logit"\n[[survival]]\nendpoint = "os2"\n', "conf_type must be one of log, log-log, plain"),
    (HEAD + '[analysis]\nx = 1\n', "unknown key 'analysis'; keys are study, parameters, table, survival, cuminc, model"),
    (HEAD, "no blocks"),
    (HEAD + '[[survival]]\nendpoint = "os2"\nby = "os2_days"\n', "by 'os2_days' is a days column"),
])
def test_errors_name_the_problem_and_what_exists(text, needle):
    assert needle in err(text).message


def test_missing_file_is_exit_2(tmp_path):
    with pytest.raises(CartregError) as info:
        parse_plan(tmp_path / "nope.toml")
    assert info.value.exit_code == 2 and "plan file not found" in info.value.message


def test_where_binds_values_and_never_pastes_them():
    sql, params = compile_where("center = 'x''); DROP TABLE patients; --' or not late")
    assert "DROP" not in sql and params == {"w0": "x'); DROP TABLE patients; --"}
    assert sql == '("center" = $w0) OR (NOT ("late"))'
    for bad in ("late; DROP TABLE patients", "late -- comment", "age > (SELECT 1)", "product = axi"):
        with pytest.raises(CartregError):
            compile_where(bad)


def test_where_evaluates_in_duckdb():
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT * FROM (VALUES (70, 'tFL', true), (50, 'DLBCL', false), (NULL, 'tMZL', NULL)) "
                "t(age, histology, late)")
    sql, params = compile_where("(age >= 60 or histology in ('tMZL')) and not late is null")
    assert con.execute(f"SELECT age FROM c WHERE {sql}", params).fetchall() == [(70,)]
    sql, params = compile_where("histology not in ('tFL', 'tMZL')")
    assert con.execute(f"SELECT age FROM c WHERE {sql}", params).fetchall() == [(50,)]


def test_shipped_plans_all_parse_and_overrides_apply():
    assert set(shipped_plans()) == {"late-failure", "product-outcomes", "relapse-nrm", "late-failure-factors",
                                    "intention-to-treat"}
    for name in shipped_plans():
        assert load_plan(name=name).study.name == name
    p = load_plan(name="product-outcomes", overrides={"conf_type": "log", "late_after_days": 90})
    assert (p.parameters.conf_type, p.parameters.late_after_days) == ("log", 90.0)
    with pytest.raises(CartregError, match="does not apply to a plan"):
        load_plan(name="product-outcomes", overrides={"reference_class": "IMiD"})
