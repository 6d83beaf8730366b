"""The ``cartreg`` command.

Each sub-command lives in its own module with a ``register(app)`` function, so commands can be read
(and tested) one at a time. Heavy imports happen inside the command functions to keep start-up fast.
A :class:`~cartreg.errors.CartregError` is printed as a one-line message, never as a traceback.
"""

from __future__ import annotations

import sys

import typer

from cartreg import __version__
from cartreg.errors import CartregError

app = typer.Typer(
    name="cartreg",
    help="CAR T-cell therapy registry analysis: validate, import, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


def _register_all() -> None:
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


_register_all()


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
