"""The regimen-to-class table: every example of the issue, matching rules, precedence, user tables."""

from __future__ import annotations

import pytest

from cartreg.endpoints.treatment_classes import load_class_map, normalise_key, validate_precedence
from cartreg.errors import CartregError

EXAMPLES = {
    "chemotherapy": ["R-GemOx", "GemOx", "R-ICE", "R-DHAP", "R-DHAX", "R-DHAOx", "R-ESHAP", "R-GDP", "BR",
                     "bendamustine-rituximab", "Pola-BR", "Pola-R-Benda", "R-CHOP", "CHOP", "high-dose methotrexate",
                     "high dose cytarabine", "HD-MTX", "rituximab + gemcitabine + oxaliplatin"],
    "IMiD": ["lenalidomide", "R2", "lenalidomide + rituximab", "tafasitamab + lenalidomide", "Lenalidomide/Rituximab"],
    "bispecific": ["glofitamab", "epcoritamab", "mosunetuzumab", "odronextamab", "Glofitamab + R-GemOx"],
    "targeted": ["ibrutinib", "acalabrutinib", "zanubrutinib", "pirtobrutinib", "MALT1 inhibitor",
                 "MALT-1 inhibitor", "venetoclax", "selinexor", "ibrutinib + rituximab"],
    "anti-PD1": ["pembrolizumab", "nivolumab", "Nivolumab"],
    "radiotherapy": ["radiotherapy", "RT", "ISRT", "ISRT 30 Gy", "Radiothérapie"],
    "other": ["rituximab", "R", "tafasitamab", "Experimental drug", "loncastuximab"],
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
