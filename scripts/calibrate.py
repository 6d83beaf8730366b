"""The full calibration check of the synthetic registry against the DESCAR-T late-failure abstract.

    python scripts/calibrate.py                     # 200,000 patients + 20 registries of 977 (about a minute)
    python scripts/calibrate.py --patients 500000 --seeds 50 -o calibration-output

It runs ``cartreg calibrate`` with the documented settings: synthesise with the default config ->
write CSVs -> read them back through validation -> ``analyze(study="late-failure")`` -> compare every
figure of ``cartreg/data/calibration_targets.csv`` with its tolerance, and show the seed-to-seed
spread at N = 977. Exit code 1 if any target is out of tolerance. See docs/synthetic-registry.md.
"""

from __future__ import annotations

import sys

from cartreg.cli.main import main

DEFAULTS = ["--patients", "200000", "--seed", "20220429", "--seeds", "20", "-o", "calibration-output"]


def _merged(argv: list[str]) -> list[str]:
    """The documented defaults, overridden by any option given on the command line."""
    given = {a for a in argv if a.startswith("-")}
    out = []
    it = iter(DEFAULTS)
    for opt, value in zip(it, it):
        if opt not in given and not (opt == "-o" and "--output" in given):
            out += [opt, value]
    return ["calibrate", *out, *argv]


if __name__ == "__main__":
    sys.exit(main(_merged(sys.argv[1:])))
