import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import split_registry  # noqa: E402



@pytest.fixture(scope="session")
def full_registry(tmp_path_factory) -> Path:
    """A 600-patient synthetic registry (CSV directory)."""
    from typer.testing import CliRunner

    from cartreg.cli.main import app

    out = tmp_path_factory.mktemp("fed") / "full"
    res = CliRunner().invoke(app, ["synth", "--patients", "600", "--seed", "7", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="session", params=[(1, [0.5, 0.3, 0.2]), (2, [0.2, 0.2, 0.6])], ids=["split1", "split2"])
def split(request, full_registry, tmp_path_factory) -> list[Path]:
    seed, weights = request.param
    return split_registry(full_registry, tmp_path_factory.mktemp(f"split{seed}"), weights, seed)
