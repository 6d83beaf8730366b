"""``cartreg plans``: list the shipped plan files, or print one (``cartreg plans show NAME``)."""

from __future__ import annotations

from typing import Optional

import typer

from cartreg.errors import CartregError


def register(app: typer.Typer) -> None:
    @app.command("plans")
    def plans_cmd(
        action: Optional[str] = typer.Argument(None, help="show"),
        name: Optional[str] = typer.Argument(None, help="A shipped plan's name."),
    ) -> None:
        """List the shipped plans; `cartreg plans show NAME` prints one as TOML (start from a copy)."""
        from cartreg.study import load_plan, shipped_plans

        plans = shipped_plans()
        if action is None:
            from cartreg.study import BUILTIN_STUDIES

            for key in plans:
                plan = load_plan(name=key)
                note = "  (--study runs the built-in study; --plan runs this file)" if key in BUILTIN_STUDIES else ""
                typer.echo(f"{key:<22} {plan.study.title}{note}")
            typer.echo("\n`cartreg plans show NAME > my-plan.toml` prints a plan; "
                       "run it with `cartreg analyze REGISTRY --study NAME -o OUT` or `--plan my-plan.toml`.")
            return
        if action != "show":
            raise CartregError(f"unknown action {action!r}; use `cartreg plans` or `cartreg plans show NAME`", 2)
        if name is None:
            raise CartregError(f"give a plan name: {', '.join(plans)}", 2)
        if name not in plans:
            raise CartregError(f"unknown plan {name!r}; shipped plans: {', '.join(plans)}", 2)
        typer.echo(plans[name], nl=False)
