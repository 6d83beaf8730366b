"""Tiny hand-built registries, typed like the registry store, for rule-by-rule tests (shared by test packages)."""

from __future__ import annotations

import datetime as dt

import duckdb


SCHEMA = {
    "patients": "patient_id VARCHAR, sex VARCHAR, age INTEGER, histology VARCHAR, eligibility_date DATE, "
    "stage INTEGER, aaipi INTEGER, prior_lines INTEGER, prior_auto_hsct BOOLEAN, prior_allo_hsct BOOLEAN, "
    "last_contact_date DATE, death_date DATE, death_cause VARCHAR",
    "infusions": "patient_id VARCHAR, infusion_date DATE, product VARCHAR, ecog INTEGER, ldh_elevated BOOLEAN, "
    "bulky BOOLEAN, ferritin_ug_l DOUBLE, crp_mg_dl DOUBLE, bridging VARCHAR, crs_grade INTEGER, icans_grade INTEGER",
    "responses": "patient_id VARCHAR, assessment_date DATE, response VARCHAR",
    "treatments": "patient_id VARCHAR, start_date DATE, regimen VARCHAR",
}

D0 = dt.date(2020, 1, 1)  # every test infuses on this day unless it says otherwise


def day(n: int) -> dt.date:
    """The date n days after D0 (so day(91) is 91 days after infusion)."""
    return D0 + dt.timedelta(days=n)


def build(patients=(), infusions=(), responses=(), treatments=()) -> duckdb.DuckDBPyConnection:
    """A connection holding the four registry tables; rows are dicts of the columns they set."""
    con = duckdb.connect()
    data = {"patients": patients, "infusions": infusions, "responses": responses, "treatments": treatments}
    for table, ddl in SCHEMA.items():
        con.execute(f"CREATE TABLE {table} ({ddl})")
        cols = [c.split()[0] for c in ddl.split(", ")]
        for row in data[table]:
            unknown = set(row) - set(cols)
            assert not unknown, unknown
            con.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )
    return con


def patient(pid: str, last: int, death: int | None = None, **kw) -> dict:
    return {"patient_id": pid, "eligibility_date": day(-40), "last_contact_date": day(last),
            "death_date": None if death is None else day(death), **kw}


def infusion(pid: str, at: int = 0, **kw) -> dict:
    return {"patient_id": pid, "infusion_date": day(at), "product": kw.pop("product", "axi-cel"), **kw}


def resp(pid: str, at: int, code: str) -> dict:
    return {"patient_id": pid, "assessment_date": day(at), "response": code}


def tx(pid: str, at: int, regimen: str) -> dict:
    return {"patient_id": pid, "start_date": day(at), "regimen": regimen}


