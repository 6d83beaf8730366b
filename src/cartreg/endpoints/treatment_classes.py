"""Treatment class of a post-CAR T regimen: the rule *treatment class* of docs/endpoints.md.

The mapping is a plain, editable CSV (``cartreg/data/treatment_classes.csv``; a user may pass their own)
with columns ``name, kind, class, note``:

* ``kind = regimen``: a regimen name (R-GemOx, Pola-BR, R2, ISRT, ...), matched against the *whole*
  regimen text first;
* ``kind = drug``: a drug (or regimen abbreviation) matched as a token when no whole-string match exists;
* ``kind = partner``: a partner drug (rituximab, tafasitamab, ...) that never decides a class alone.

Matching ignores case, spacing and the separators ``+ / - , ; & ( )``. A regimen whose tokens map to
several classes takes the class of highest precedence; one with no recognised drug is ``other``.
Classification runs once per *distinct* regimen text, never per patient.

The class ``none`` (:data:`NOT_TREATMENT`) marks entries that are not anticancer treatment (best
supportive care, palliative care, transfusion, a corticosteroid alone). A regimen is ``none`` when its
whole text is a ``none`` entry, or when *every* word of it is a ``none`` drug ("Dexamethasone",
"dexamethasone + prednisone"); a ``none`` drug beside an anticancer drug is ignored ("dexamethasone +
cytarabine" is chemotherapy), and beside an unknown word it does not decide ("XYZ-123 + dexamethasone"
is ``other``, so that an unrecognised drug is never taken for no treatment). The derivation leaves
``none`` entries out of the treatments (docs/endpoints.md, *Rules 6-8*). A table without ``none``
rows (every table written before it existed) classifies exactly as before.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cartreg.errors import CartregError

#: The classes, exactly as they appear as keys in results.json.
CLASSES: tuple[str, ...] = (
    "chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy", "adc", "cellular", "other",
)

#: The class of entries that are not anticancer treatment (never a key of results.json by_class).
NOT_TREATMENT = "none"

#: Default precedence when one treatment combines classes (first wins); ``other`` always comes last.
DEFAULT_PRECEDENCE: tuple[str, ...] = (
    "bispecific", "cellular", "adc", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy",
)

#: The precedence before issue 10 (no adc, no cellular): for reproducing earlier results.
PRECEDENCE_BEFORE_ISSUE_10: tuple[str, ...] = (
    "bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy",
)

_SEPARATORS = re.compile(r"[\s+/\-,;&()\[\]._:]+")


def _fold(text: str) -> str:
    """Lower case without diacritics, so French exports (``Radiothérapie``) match."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_key(text: str) -> str:
    """Whole-string key: folded case with every separator removed (``"R - GemOx"`` -> ``"rgemox"``)."""
    return _SEPARATORS.sub("", _fold(text))


def tokens(text: str) -> list[str]:
    """Drug tokens: lower-case words between separators, plus each adjacent pair joined.

    Joined pairs let ``"MALT-1 inhibitor"`` find ``malt1`` while spacing stays irrelevant.
    """
    words = [w for w in _SEPARATORS.split(_fold(text)) if w]
    return words + [a + b for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class ClassMap:
    """A regimen-to-class mapping: whole-string regimen keys, drug tokens and partner tokens."""

    regimens: dict[str, str]
    drugs: dict[str, str]
    partners: frozenset[str]
    source: str

    def classify(self, regimen: str, precedence: tuple[str, ...] = DEFAULT_PRECEDENCE) -> str:
        """The class of one regimen text (see module docstring); ``none`` for no anticancer treatment."""
        key = normalise_key(regimen)
        if key in self.regimens:
            return self.regimens[key]
        toks = tokens(regimen)
        found = {self.drugs[t] for t in toks if t in self.drugs}
        active = found - {NOT_TREATMENT}
        if active or not found:
            return highest_precedence(active, precedence)
        words = [w for w in _SEPARATORS.split(_fold(regimen)) if w]
        if all(self.drugs.get(w) == NOT_TREATMENT for w in words):
            return NOT_TREATMENT
        return "other"

    @property
    def classes(self) -> tuple[str, ...]:
        """The treatment classes this table can give (in :data:`CLASSES` order, ``other`` always)."""
        used = set(self.regimens.values()) | set(self.drugs.values()) | {"other"}
        return tuple(c for c in CLASSES if c in used)

    def recognises(self, regimen: str) -> bool:
        """Whether the text matches a regimen or contains a known anticancer drug, or is recognised as
        no treatment (``none``); else it is ``other`` by default and reported as unmapped."""
        if normalise_key(regimen) in self.regimens:
            return True
        if any(self.drugs.get(t, NOT_TREATMENT) != NOT_TREATMENT for t in tokens(regimen)):
            return True
        return self.classify(regimen) == NOT_TREATMENT


def highest_precedence(classes: set[str] | frozenset[str], precedence: tuple[str, ...]) -> str:
    """The class that comes first in ``precedence``; ``other`` when none of them is listed."""
    for c in precedence:
        if c in classes:
            return c
    return "other"


def validate_precedence(precedence: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Check a user-given precedence: known class names, no repeats. ``other`` is always implied last."""
    prec = tuple(p.strip() for p in precedence if p.strip())
    unknown = [p for p in prec if p not in CLASSES]
    if unknown:
        raise CartregError(f"unknown treatment class in precedence: {', '.join(unknown)} (classes: {', '.join(CLASSES)})")
    if len(set(prec)) != len(prec):
        raise CartregError(f"treatment class repeated in precedence: {', '.join(prec)}")
    return tuple(p for p in prec if p != "other")


def load_class_map(path: str | Path | None = None) -> ClassMap:
    """Read the mapping CSV (the packaged default when ``path`` is None). Lines starting with ``#`` are comments."""
    if path is None:
        text = resources.files("cartreg.data").joinpath("treatment_classes.csv").read_text(encoding="utf-8")
        source = "cartreg/data/treatment_classes.csv"
    else:
        p = Path(path)
        if not p.is_file():
            raise CartregError(f"treatment class map not found: {p}")
        text = p.read_text(encoding="utf-8-sig")
        source = str(p)
    regimens: dict[str, str] = {}
    drugs: dict[str, str] = {}
    partners: set[str] = set()
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "kind", "class"} - set(reader.fieldnames or [])
    if missing:
        raise CartregError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    for lineno, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        if not name or name.startswith("#"):
            continue
        kind = (row.get("kind") or "").strip().lower()
        cls = (row.get("class") or "").strip()
        if kind == "partner":
            partners.add(normalise_key(name))
            continue
        if cls not in CLASSES and cls != NOT_TREATMENT:
            raise CartregError(f"{source} row {lineno}: class {cls!r} of {name!r} is not one of "
                               f"{', '.join(CLASSES + (NOT_TREATMENT,))}")
        if kind == "regimen":
            regimens[normalise_key(name)] = cls
        elif kind == "drug":
            drugs[normalise_key(name)] = cls
            regimens.setdefault(normalise_key(name), cls)  # a drug alone is also a whole regimen
        else:
            raise CartregError(f"{source} row {lineno}: kind {kind!r} must be regimen, drug or partner")
    return ClassMap(regimens=regimens, drugs=drugs, partners=frozenset(partners), source=source)


def classify_regimens(
    regimens: list[str], class_map: ClassMap, precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
) -> list[str]:
    """Classes for a list of *distinct* regimen texts (the caller de-duplicates)."""
    return [class_map.classify(r, precedence) for r in regimens]
