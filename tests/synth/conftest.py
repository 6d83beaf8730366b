from __future__ import annotations

import pytest

from cartreg.synth import generate


@pytest.fixture(scope="session")
def small_reg():
    """A 400-patient registry (seed 11), shared by the structural tests."""
    return generate(400, seed=11)
