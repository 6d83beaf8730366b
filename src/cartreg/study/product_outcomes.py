"""Outcomes from infusion by CAR T product: a second plan built from the same endpoints and blocks.

OS and PFS are measured from the infusion date (docs/endpoints.md, *Time-to-event endpoints*):
PFS ends at the first failure (PD/PMD) or death. Products are compared with a Cox model against
``reference_product`` (Efron ties) and a log-rank test; landmark rates use ``landmark_months``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartreg.endpoints import DAYS_PER_MONTH, EndpointRules, Endpoints, derive_endpoints
from cartreg.errors import CartregError
from cartreg.study import blocks as b
from cartreg.study.late_failure import Columns
from cartreg.study.params import CONF_TYPES


@dataclass(frozen=True)
class ProductOutcomesParams:
    """conf_type/conf_level: KM CIs; landmark_months: landmark of the rates; reference_product: Cox
    reference; risk_table_step_months: spacing of the risk tables; pfs_censoring: ``last-assessment``
    (PFS censored at the last disease assessment, the default of issue 10) or ``last-contact``;
    compare_unknown_product: a missing product is a level of the log-rank test and Cox model (the
    behaviour before issue 10; default: it is counted and described, not compared)."""

    conf_type: str = "log-log"
    conf_level: float = 0.95
    landmark_months: float = 12.0
    reference_product: str = "axi-cel"
    risk_table_step_months: float = 3.0
    pfs_censoring: str = "last-assessment"
    compare_unknown_product: bool = False

    def __post_init__(self) -> None:
        if self.conf_type not in CONF_TYPES:
            raise CartregError(f"conf_type must be one of {', '.join(CONF_TYPES)}, got {self.conf_type!r}")
        if not 0 < self.conf_level < 1 or self.landmark_months <= 0 or self.risk_table_step_months <= 0:
            raise CartregError("conf_level must be in (0, 1); landmark and risk-table step must be > 0")
        EndpointRules(pfs_censoring=self.pfs_censoring)  # type: ignore[arg-type]  # validates it
        if not isinstance(self.compare_unknown_product, bool):
            raise CartregError(f"compare_unknown_product must be true or false, got {self.compare_unknown_product!r}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run(con, params: ProductOutcomesParams, data_cutoff: dt.date | None = None) -> tuple[dict[str, Any], Endpoints]:
    """OS and PFS from infusion, overall and by product (default endpoint rules, at the data freeze)."""
    rules = EndpointRules(pfs_censoring=params.pfs_censoring, data_cutoff=data_cutoff)  # type: ignore[arg-type]
    ep = derive_endpoints(con, rules)
    c = Columns(ep.patients)
    ct, cl, step = params.conf_type, params.conf_level, params.risk_table_step_months
    product = c.text("product")
    product = np.where(product == None, "unknown", product).astype(object)  # noqa: E711
    os_days, os_event = c.num("os_days"), c.flag("os_event")[0]
    pfs_days, pfs_event = c.num("cif_days"), c.num("cif_status") > 0  # failure or death, from infusion
    at = params.landmark_months * DAYS_PER_MONTH
    # rule 8 (docs/endpoints.md): a missing product is counted, not a level of the comparisons
    cmp = np.ones(c.n, bool) if params.compare_unknown_product else product != "unknown"
    os_hr, os_notes = b.cox_vs_reference(os_days[cmp], os_event[cmp], product[cmp], params.reference_product, cl)
    pfs_hr, pfs_notes = b.cox_vs_reference(pfs_days[cmp], pfs_event[cmp], product[cmp], params.reference_product, cl)
    by_product: dict[str, Any] = {}
    for prod in sorted(set(product.tolist())):
        m = product == prod
        ref = prod == params.reference_product
        by_product[prod] = {
            "n": int(m.sum()),
            "os": b.km_summary(os_days[m], os_event[m], ct, cl),
            "pfs": b.km_summary(pfs_days[m], pfs_event[m], ct, cl),
            "os_landmark": b.landmark(os_days[m], os_event[m], at, ct, cl),
            "pfs_landmark": b.landmark(pfs_days[m], pfs_event[m], at, ct, cl),
            "os_hr": None if ref else os_hr.get(prod),
            "pfs_hr": None if ref else pfs_hr.get(prod),
            "reference": ref,
            "compared": bool(cmp[m].all()),
            "curves": {"os": b.km_curve(os_days[m], os_event[m], ct, cl, step),
                       "pfs": b.km_curve(pfs_days[m], pfs_event[m], ct, cl, step)},
        }
    results = {
        "study": "product-outcomes",
        "parameters": params.to_dict(),
        "cohort": {"registered": ep.registered, "infused": c.n,
                   "products": {k: v["n"] for k, v in by_product.items()}},
        "os": b.km_summary(os_days, os_event, ct, cl),
        "pfs": b.km_summary(pfs_days, pfs_event, ct, cl),
        "followup": b.followup(os_days, os_event, ct, cl),
        "by_product": by_product,
        "logrank": {"os": b.logrank(os_days[cmp], os_event[cmp], product[cmp]),
                    "pfs": b.logrank(pfs_days[cmp], pfs_event[cmp], product[cmp])},
        "warnings": [{"kind": "hazard_ratio", "endpoint": e, "message": n}
                     for e, notes in (("os", os_notes), ("pfs", pfs_notes)) for n in notes],
    }
    n_unknown = int((~cmp).sum())
    if n_unknown:
        results["warnings"].append({"kind": "product_unknown", "n": n_unknown,
                                    "message": f"{n_unknown} infused patient(s) with no product recorded: counted "
                                               "(cohort.products.unknown) and described, not compared"})
    return results, ep
