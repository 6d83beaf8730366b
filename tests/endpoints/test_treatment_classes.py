"""The regimen-to-class table: every example of the issue, matching rules, precedence, user tables."""

from __future__ import annotations

import pytest

from pathlib import Path

from cartreg.endpoints.treatment_classes import load_class_map, normalise_key, validate_precedence
from cartreg.errors import CartregError

FIXTURE_OLD_MAP = Path(__file__).resolve().parents[1] / "fixtures" / "classes" / "treatment_classes_before_issue10.csv"

EXAMPLES = {
    "chemotherapy": ["R-GemOx", "GemOx", "R-ICE", "R-DHAP", "R-DHAX", "R-DHAOx", "R-ESHAP", "R-GDP", "BR",
                     "bendamustine-rituximab", "R-CHOP", "CHOP", "high-dose methotrexate",
                     "high dose cytarabine", "HD-MTX", "rituximab + gemcitabine + oxaliplatin"],
    "IMiD": ["lenalidomide", "R2", "lenalidomide + rituximab", "tafasitamab + lenalidomide", "Lenalidomide/Rituximab"],
    "bispecific": ["glofitamab", "epcoritamab", "mosunetuzumab", "odronextamab", "Glofitamab + R-GemOx"],
    "targeted": ["ibrutinib", "acalabrutinib", "zanubrutinib", "pirtobrutinib", "MALT1 inhibitor",
                 "MALT-1 inhibitor", "venetoclax", "selinexor", "ibrutinib + rituximab"],
    "anti-PD1": ["pembrolizumab", "nivolumab", "Nivolumab"],
    "radiotherapy": ["radiotherapy", "RT", "ISRT", "ISRT 30 Gy", "Radiothérapie"],
    "other": ["rituximab", "R", "tafasitamab", "Experimental drug", "XYZ-123 + dexamethasone", "rituximab + dexamethasone"],
    # issue 10, rule 6 (these were chemotherapy / other before)
    "adc": ["Pola-BR", "Pola-R-Benda", "Pola-R", "pola-B-R", "polatuzumab + bendamustine + rituximab",
            "Polatuzumab vedotin", "loncastuximab", "Loncastuximab tesirine", "Zynlonta", "Lonca-R"],
    "cellular": ["allogeneic HSCT", "Allo-SCT", "allo-HSCT", "Allogreffe", "second CAR T", "CAR-T", "axi-cel",
                 "Kymriah", "DLI", "Allogeneic stem cell transplantation"],
    "none": ["best supportive care", "BSC", "Palliative care", "soins palliatifs", "dexamethasone", "Dexaméthasone",
             "prednisone", "Dexamethasone + prednisolone", "corticosteroids", "transfusion", "Platelet transfusion"],
}


@pytest.mark.parametrize("cls,text", [(c, t) for c, ts in EXAMPLES.items() for t in ts])
def test_examples(cls, text):
    assert load_class_map().classify(text) == cls


@pytest.mark.parametrize("a", ["R-GemOx", "r gemox", "R/GEMOX", "R + GemOx", "r,gemox", " RGemOx "])
def test_case_spacing_and_separators_do_not_matter(a):
    assert normalise_key(a) == "rgemox"
    assert load_class_map().classify(a) == "chemotherapy"


def test_partner_drug_alone_never_decides_but_is_recognised_only_with_a_drug():
    m = load_class_map()
    assert m.classify("rituximab") == "other" and not m.recognises("rituximab")
    assert m.recognises("ibrutinib + rituximab")


def test_none_beside_an_anticancer_drug_is_ignored():
    m = load_class_map()
    assert m.classify("dexamethasone + cytarabine + cisplatin") == "chemotherapy"
    assert m.classify("glofitamab + dexamethasone") == "bispecific"
    assert m.recognises("dexamethasone") and not m.recognises("XYZ-123 + dexamethasone")


def test_default_precedence_of_issue_10():
    m = load_class_map()
    assert m.classify("glofitamab + allo-SCT") == "bispecific"
    assert m.classify("allo-SCT + polatuzumab") == "cellular"
    assert m.classify("Pola-R + lenalidomide") == "adc"
    assert m.classify("polatuzumab + R-GemOx") == "adc"


def test_todays_table_reads_unchanged():
    """The class table shipped before issue 10 is a valid --class-map: same classes, same answers."""
    old = load_class_map(FIXTURE_OLD_MAP)
    assert old.classes == ("chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy", "other")
    prec = ("bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy")
    assert old.classify("Pola-BR", prec) == "chemotherapy"
    assert old.classify("loncastuximab", prec) == "other"
    assert old.classify("dexamethasone", prec) == "other" and not old.recognises("dexamethasone")
    assert old.classify("best supportive care", prec) == "other"
    assert old.classify("glofitamab + R-GemOx", prec) == "bispecific"
    assert load_class_map().classes[-3:] == ("adc", "cellular", "other")


def test_precedence_decides_combined_classes():
    m = load_class_map()
    assert m.classify("lenalidomide + ibrutinib") == "IMiD"
    assert m.classify("lenalidomide + ibrutinib", ("targeted", "IMiD")) == "targeted"


def test_user_table(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("name,kind,class,note\nfoo-mab,drug,bispecific,\nR,partner,,\n", encoding="utf-8")
    m = load_class_map(p)
    assert m.classify("FOO MAB + R") == "bispecific" and m.classify("R-GemOx") == "other"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind,class\nx,drug,CAR-T\n", encoding="utf-8")
    with pytest.raises(CartregError, match="row 2"):
        load_class_map(bad)
    with pytest.raises(CartregError, match="not found"):
        load_class_map(tmp_path / "missing.csv")


def test_precedence_validation():
    assert validate_precedence(["IMiD", "other", "chemotherapy"]) == ("IMiD", "chemotherapy")
    with pytest.raises(CartregError):
        validate_precedence(["IMiD", "IMiD"])
