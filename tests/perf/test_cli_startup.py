"""Issue 15: ``cartreg --help`` imports no heavy module, every command still has its help, the
listed help is the commands' own, and ``analyze --no-report`` never imports matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cartreg.cli import main as cli_main

HEAVY = ("numpy", "pyarrow", "duckdb", "scipy", "matplotlib", "rich", "jinja2", "openpyxl", "pandas",
         "cartreg.stats", "cartreg.study", "cartreg.registry", "cartreg.report")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def _heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_heavy_module():
    mods = _modules_after("import contextlib, io\nfrom cartreg.cli.main import main\n"
                          "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])")
    assert _heavy(mods) == []
    assert "cartreg.cli.analyze_cmd" not in mods  # no command module is imported to list the commands


def test_listed_help_is_each_commands_own():
    cli_main._register_all()
    group = typer.main.get_command(cli_main.app)
    assert set(group.commands) == set(cli_main.COMMAND_HELP)
    for name, cmd in group.commands.items():
        assert cli_main.COMMAND_HELP[name] == cmd.get_short_help_str(limit=1000), name


@pytest.mark.parametrize("name", list(cli_main.COMMAND_HELP))
def test_every_command_help(name, capsys):
    assert cli_main.main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: ") and f" {name} [OPTIONS]" in out.splitlines()[0]
    assert cli_main.COMMAND_HELP[name][:40] in " ".join(out.split())


def test_top_level_help_lists_every_command(capsys):
    assert cli_main.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli_main.COMMAND_HELP:
        assert f"\n  {name} " in out


def test_unknown_command_is_a_usage_error(capsys):
    assert cli_main.main(["nope"]) == 2
    assert "No such command 'nope'" in capsys.readouterr().err


def test_analyze_no_report_does_not_import_matplotlib(tmp_path):
    reg = next(p for p in sorted(EXAMPLE.iterdir()) if p.is_dir() and (p / "patients.csv").exists())
    mods = _modules_after(
        "import contextlib, io\nfrom cartreg.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): rc = main(['analyze', {str(reg)!r}, '-o', "
        f"{str(tmp_path / 'o')!r}, '--no-report'])\nassert rc == 0, rc")
    assert not [m for m in mods if m == "matplotlib" or m.startswith("matplotlib.")]
    assert (tmp_path / "o" / "results.json").is_file() and (tmp_path / "o" / "tables").is_dir()


def test_png_only_on_request(tmp_path):
    reg = next(p for p in sorted(EXAMPLE.iterdir()) if p.is_dir() and (p / "patients.csv").exists())
    assert cli_main.main(["analyze", str(reg), "-o", str(tmp_path / "a")]) == 0
    # SVG for report.html, PDF and TIFF for the manuscript (issue 13); PNG only with --png
    assert sorted(p.suffix for p in (tmp_path / "a" / "figures").iterdir()) == [".pdf"] * 5 + [".svg"] * 5 + [".tiff"] * 5
    assert cli_main.main(["analyze", str(reg), "-o", str(tmp_path / "b"), "--png"]) == 0
    assert sorted(p.suffix for p in (tmp_path / "b" / "figures").iterdir()) == [".pdf"] * 5 + [".png"] * 5 + [".svg"] * 5 + [".tiff"] * 5
    # the SVGs (and so report.html) do not depend on --png
    for svg in (tmp_path / "a" / "figures").glob("*.svg"):
        assert svg.read_bytes() == (tmp_path / "b" / "figures" / svg.name).read_bytes()
