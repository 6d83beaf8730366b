"""The ``cartreg`` command.

Each sub-command lives in its own module with a ``register(app)`` function, so commands can be read
(and tested) one at a time. Heavy imports happen inside the command functions to keep start-up fast.
A :class:`~cartreg.errors.CartregError` is printed as a one-line message, never as a traceback.

Start-up (issue 15): the command modules are imported only when a command is run or its ``--help``
shown (:class:`_LazyGroup`); ``cartreg --help`` lists them from :data:`COMMAND_HELP`, and help is
formatted by click, not rich (``rich_markup_mode=None``: importing typer's rich formatter costs
0.2-0.4 s). ``tests/perf/test_cli_startup.py`` keeps :data:`COMMAND_HELP` in step with the modules.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from cartreg import __version__
from cartreg.errors import CartregError

# name -> one-line help, in the order `cartreg --help` lists them (the first line of each command's
# docstring; tests/perf/test_cli_startup.py checks it against the registered commands)
COMMAND_HELP = {
    "validate": "Check a registry and print every problem (exit 0 no errors, 1 errors, 2 unusable input).",
    "import": "Validate a registry, then load it into one DuckDB file (atomic; refuses on errors).",
    "survival": "Kaplan-Meier medians, median follow-up, S(t), log-rank and Cox, agreeing with R survival.",
    "cuminc": "Cumulative incidence (Aalen-Johansen) with log(-log) CIs and Gray's test, agreeing with R cmprsk.",
    "synth": "Generate a synthetic registry calibrated to the DESCAR-T late-failure abstract.",
    "calibrate": "Synthesise, analyse with the real pipeline and compare every abstract figure (exit 1 on a failure).",
    "analyze": "Derive every endpoint and compute the study; write results.json, tables/, patients.csv, report.html.",
    "demo": "Run the whole pipeline on a synthetic registry calibrated to the DESCAR-T abstract.",
    "map": "Write and check a mapping from a source in any layout to the exchange format.",
    "redcap-dictionary": "Write a REDCap data dictionary for the exchange format (upload it in REDCap's Data Dictionary page).",
    "compare": "Table 1: counts/% or median (Q1, Q3) per group, chi-squared/Fisher/Wilcoxon/Kruskal-Wallis P, SMD.",
    "logistic": "Logistic regression as R glm(binomial): OR, Wald and profile-likelihood CIs; --firth as logistf.",
    "plans": "List the shipped plans; `cartreg plans show NAME` prints one as TOML (start from a copy).",
    "federated": "Exact federated analysis over several registries (vantage6).",
}


class _LazyGroup(TyperGroup):
    """The ``cartreg`` group: lists commands from :data:`COMMAND_HELP` and imports the command
    modules (:func:`_register_all`) only when a command is looked up to be run or helped."""

    def list_commands(self, ctx) -> list[str]:
        return list(dict.fromkeys([*COMMAND_HELP, *self.commands]))

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands:
            _register_all()
            self.commands.update(getattr(typer.main.get_command(app), "commands", {}))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, COMMAND_HELP.get(name) or self.commands[name].get_short_help_str(limit=100))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="cartreg",
    help="CAR T-cell therapy registry analysis: validate, import, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cartreg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """cartreg: registry extract -> validated store -> endpoints -> R-exact statistics -> HTML report."""


_registered: list[bool] = []


def _register_all() -> None:
    if _registered:  # once per process (called lazily by _LazyGroup.get_command)
        return
    _registered.append(True)
    from cartreg.cli import analyze_cmd, cuminc_cmd, demo_cmd, registry_cmds, survival_cmd, synth_cmds
    from cartreg.cli import federated_cmd, plans_cmd

    for module in (registry_cmds, survival_cmd, cuminc_cmd, synth_cmds, analyze_cmd, demo_cmd, federated_cmd, plans_cmd):
        module.register(app)
    from cartreg.cli import map_cmds, redcap_cmd  # issue 11: mappings and REDCap

    for module in (map_cmds, redcap_cmd):
        module.register(app)

    from cartreg.cli import compare_cmd, logistic_cmd  # issue 12: Table 1 and logistic regression

    for module in (compare_cmd, logistic_cmd):
        module.register(app)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that every ``finally`` and atomic-write cleanup runs."""


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess test
    raise Terminated()


def _install_sigterm_handler():
    """SIGTERM becomes :class:`Terminated` (main thread only); returns the previous handler."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _on_sigterm)
    return None


def _restore_sigterm_handler(previous) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _is_interrupt(exc: BaseException) -> bool:
    """DuckDB turns Ctrl-C during a query into ``duckdb.InterruptException`` ("Query interrupted")."""
    return type(exc).__name__ == "InterruptException" or str(exc).startswith("Query interrupted")


def _interrupt_in_chain(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or :class:`Terminated`) an exit was raised from, if any."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 10:
        if isinstance(e, KeyboardInterrupt):
            return e
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def _is_corrupt_database(exc: BaseException) -> bool:
    """DuckDB's error for a block whose checksum does not match (a damaged .duckdb file)."""
    text = str(exc)
    return type(exc).__module__.lstrip("_").startswith("duckdb") and (
        "Corrupt database file" in text or "Could not read enough bytes" in text)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (used by tests and by the console script).

    Exit codes: 0 success, 1 data errors, 2 unusable input, 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM); a :class:`CartregError` is one line on stderr, with any control character
    in it shown escaped.
    """
    from cartreg.textsafe import printable

    previous = _install_sigterm_handler()
    try:
        return _run(argv, printable)
    finally:
        _restore_sigterm_handler(previous)


def _run(argv: list[str] | None, printable) -> int:
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:  # typer/click exit with the command's code
        interrupt = _interrupt_in_chain(exc)  # typer turns Ctrl-C into a silent Exit(130)
        if isinstance(interrupt, Terminated):
            typer.secho("terminated", err=True)
            return 143
        if interrupt is not None:
            typer.secho("interrupted", err=True)
            return 130
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CartregError as exc:
        typer.secho(f"error: {printable(exc.message, keep_newlines=True)}", err=True, fg=typer.colors.RED)
        return exc.exit_code
    except Terminated:
        typer.secho("terminated", err=True)
        return 143
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        return 130
    except Exception as exc:
        if _is_interrupt(exc):
            typer.secho("interrupted", err=True)
            return 130
        if _is_corrupt_database(exc):  # a damaged block is only found when a query reads it
            first = (str(exc).splitlines() or [""])[0]
            typer.secho(f"error: the DuckDB file is damaged ({printable(first)}); import the registry again",
                        err=True, fg=typer.colors.RED)
            return 2
        raise
    return 0


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
