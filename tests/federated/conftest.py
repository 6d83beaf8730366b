import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import TABLES, split_registry  # noqa: E402


def _synth(out: Path) -> Path:
    from cartreg.cli.main import main

    assert main(["synth", "--patients", "600", "--seed", "7", "-o", str(out)]) == 0
    return out


def _snap_dates(src: Path, dst: Path, days: int = 10) -> Path:
    """The same registry with every date moved down to a 10-day grid: heavy ties everywhere."""
    dst.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for t in TABLES:
        cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_csv(?, all_varchar=true)",
                                          [str(src / f"{t}.csv")]).fetchall()]
        exprs = [
            f"CASE WHEN {c} IS NULL OR {c} = '' THEN {c} ELSE strftime(DATE '2000-01-01' + "
            f"CAST(floor(datediff('day', DATE '2000-01-01', CAST({c} AS DATE)) / {days}) * {days} AS INTEGER), "
            f"'%Y-%m-%d') END AS {c}" if c.endswith("_date") else c
            for c in cols
        ]
        con.execute(f"COPY (SELECT {', '.join(exprs)} FROM read_csv(?, all_varchar=true)) "
                    f"TO '{dst / (t + '.csv')}' (HEADER, DELIMITER ',')", [str(src / f"{t}.csv")])
    return dst


@pytest.fixture(scope="session")
def full_plain(tmp_path_factory) -> Path:
    """A 600-patient synthetic registry (CSV directory)."""
    return _synth(tmp_path_factory.mktemp("fed") / "full")


@pytest.fixture(scope="session")
def full_tied(full_plain, tmp_path_factory) -> Path:
    return _snap_dates(full_plain, tmp_path_factory.mktemp("fedtied") / "full")


CASES = {"split1": ("plain", 1, [0.5, 0.3, 0.2]), "split2": ("plain", 2, [0.2, 0.2, 0.6]),
         "tied": ("tied", 3, [0.4, 0.35, 0.25])}
_PARTS: dict[str, list[Path]] = {}


def _parts(name: str, full: Path, tmp_path_factory) -> list[Path]:
    if name not in _PARTS:
        _, seed, weights = CASES[name]
        _PARTS[name] = split_registry(full, tmp_path_factory.mktemp(name), weights, seed)
    return _PARTS[name]


@pytest.fixture(scope="session", params=list(CASES))
def case(request, full_plain, full_tied, tmp_path_factory):
    full = full_tied if CASES[request.param][0] == "tied" else full_plain
    return full, _parts(request.param, full, tmp_path_factory)


@pytest.fixture(scope="session")
def split(case) -> list[Path]:
    """Three registries: a random split of a synthetic registry (plain, or with heavy ties)."""
    return case[1]


@pytest.fixture(scope="session")
def full_registry(case) -> Path:
    """The union of ``split`` (the registry it was split from; patient ids are distinct)."""
    return case[0]


@pytest.fixture(scope="session")
def plain_split(full_plain, tmp_path_factory) -> list[Path]:
    return _parts("split1", full_plain, tmp_path_factory)
