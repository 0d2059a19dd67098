"""`smartcity hotline ...`: the 12345 hotline's commands for operators."""

from __future__ import annotations

import typer

cli = typer.Typer(help="The 12345 hotline (政务服务便民热线): work orders.", no_args_is_help=True)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


@cli.command("categories")
def categories() -> None:
    """The category tree (诉求分类) with each leaf's default department."""
    from smartcity.core.cli import console
    from smartcity.hotline.categories import category_nodes

    for node in category_nodes():
        depth = node.code.count(".")
        suffix = f"  → {node.department}" if node.department else ""
        console.print(
            f"{'  ' * depth}{node.code}  {node.name} ({node.name_en}){suffix}",
            highlight=False,
            markup=False,
        )


@cli.command("list")
def list_orders(
    state: str | None = typer.Option(None, help="e.g. accepted, dispatched, replied, closed"),
    department: str | None = typer.Option(None, help="the department holding the order"),
    limit: int = typer.Option(50, min=1, max=200),
    database_url: str | None = DatabaseUrl,
) -> None:
    """The newest work orders, with state, holder and working days left."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.hotline import service

    async def load(session: AsyncSession) -> tuple[list[str], int]:
        rows, total = await service.list_orders(
            session, cli_principal(), state=state, department=department, limit=limit
        )
        lines = []
        for order in rows:
            deadline = await service.deadline_of(session, order)
            lines.append(
                f"{order.number}  {clock.to_city(order.received_at):%Y-%m-%d %H:%M}  "
                f"{order.kind:<12} {order.category_code:<9} {order.state:<11} "
                f"{order.department_code:<8} {deadline.remaining:>3}d  {order.text[:30]}"
            )
        return lines, total

    lines, total = run(load, database_url)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(f"{len(lines)} of {total} work orders.")


@cli.command("show")
def show(number: str, database_url: str | None = DatabaseUrl) -> None:
    """One work order by its number (e.g. GD-20261208-000001): facts, visits, timeline."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.errors import NotFound
    from smartcity.hotline import service
    from smartcity.hotline.categories import path_of

    async def load(session: AsyncSession) -> list[str] | None:
        principal = cli_principal()
        try:
            order = await service.get_order_by_number(session, principal, number.strip())
        except NotFound:
            return None
        deadline = await service.deadline_of(session, order)
        category = " › ".join(n.name for n in path_of(order.category_code))
        lines = [
            f"{order.number}  {order.kind}  {category}",
            f"state {order.state}, with {order.department_code}, reworks {order.reworks}",
            f"limit {order.limit_days} working days; {deadline.clock} deadline "
            f"{deadline.due_date.isoformat()}, {deadline.remaining} left, {deadline.state}",
            f"place {order.address or '-'} {order.lon or ''} {order.lat or ''} "
            f"{order.street_code or order.district_code}",
            f"caller {'anonymous' if order.anonymous else service.mask_name(order.caller_name)}",
            f"text {order.text}",
        ]
        if order.reply:
            lines.append(f"reply {order.reply}")
        for v in await service.visits_of(session, order):
            lines.append(f"  visit {clock.to_city(v.at):%Y-%m-%d %H:%M}  {v.rating}  {v.comment}")
        for event in await service.timeline_of(session, order):
            lines.append(
                f"  {clock.to_city(event.at):%Y-%m-%d %H:%M}  {event.kind:<10} {event.name:<16} "
                f"{event.actor}"
            )
        return lines

    lines = run(load, database_url)
    if lines is None:
        console.print(f"[red]There is no work order {number}.[/red]")
        raise typer.Exit(1)
    for line in lines:
        console.print(line, highlight=False, markup=False)


@cli.command("train")
def train(
    limit: int = typer.Option(
        2_000_000, min=30, max=2_000_000, help="read at most this many closed orders"
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Retrain the order classifier from the closed orders; print macro-F1 and accuracy on a
    held-out split beside the majority-class baseline. The model ships only if it beats it."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.hotline.routing import service as routing

    async def work(session: AsyncSession) -> tuple[int, bool, dict[str, object]]:
        model = await routing.train(session, cli_principal(), limit=limit)
        return model.version, model.shipped, dict(model.metrics)

    version, shipped, m = run(work, database_url)
    console.print(
        f"model v{version}: trained on {m['trained']} orders, {m['classes']} categories, "
        f"held out {m['held_out']}, {m['seconds']} s",
        highlight=False,
    )
    console.print(
        f"macro-F1 {m['macro_f1']:.4f}  accuracy {m['accuracy']:.4f}  "
        f"(majority baseline: macro-F1 {m['baseline_macro_f1']:.4f}  "
        f"accuracy {m['baseline_accuracy']:.4f})",
        highlight=False,
    )
    if shipped:
        console.print(f"v{version} beats the baseline and is now the current model.")
    else:
        console.print(f"[red]v{version} does not beat the baseline; it is not shipped.[/red]")
        raise typer.Exit(1)


@cli.command("model")
def model(database_url: str | None = DatabaseUrl) -> None:
    """The classifier's versions, newest first, with their held-out metrics."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.hotline.routing import service as routing

    async def work(session: AsyncSession) -> list[str]:
        lines = []
        for m in await routing.list_models(session, cli_principal()):
            x = m.metrics
            lines.append(
                f"v{m.version}  {clock.to_city(m.created_at):%Y-%m-%d %H:%M}  "
                f"{'shipped' if m.shipped else 'not shipped':<11}  on {m.trained_on:>8}  "
                f"macro-F1 {x.get('macro_f1', 0):.4f} "
                f"(baseline {x.get('baseline_macro_f1', 0):.4f})  "
                f"accuracy {x.get('accuracy', 0):.4f} "
                f"(baseline {x.get('baseline_accuracy', 0):.4f})"
            )
        return lines

    lines = run(work, database_url)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if not lines:
        console.print("No model yet: run `smartcity hotline train`.")
