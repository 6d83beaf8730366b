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
    from cartreg.cli import analyze_cmd, cuminc_cmd, demo_cmd, plans_cmd, registry_cmds, survival_cmd, synth_cmds

    for module in (registry_cmds, survival_cmd, cuminc_cmd, synth_cmds, analyze_cmd, demo_cmd, plans_cmd):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (used by tests and by the console script)."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:  # typer/click exit with the command's code
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CartregError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        return 130
    return 0


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
