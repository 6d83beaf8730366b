"""Make the shared test helpers (tests/tiny_registry.py) importable from every test package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
