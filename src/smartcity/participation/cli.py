"""`smartcity participation ...`: public participation's commands for operators."""

from __future__ import annotations

import typer

cli = typer.Typer(
    help="Public participation (民意征集): drafts open for comment, the figure.",
    no_args_is_help=True,
)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


@cli.command("list")
def list_drafts(
    state: str | None = typer.Option(None, help="draft, open, closed or answered"),
    limit: int = typer.Option(50, min=1, max=200),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Drafts with their state, window (Asia/Shanghai) and published comments."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.participation import service

    if state is not None and state not in ("draft", "open", "closed", "answered"):
        console.print("[red]--state is one of draft, open, closed, answered.[/red]")
        raise typer.Exit(2)

    async def load(session: AsyncSession) -> list[str]:
        drafts = await service.list_drafts(session, cli_principal(), state=state, limit=limit)
        counts = await service.comment_counts(session, [d.id for d in drafts])
        return [
            f"{d.number}  {d.state:<9} {d.kind:<11} "
            f"{clock.to_city(d.opens_at):%Y-%m-%d %H:%M} → "
            f"{clock.to_city(d.closes_at):%Y-%m-%d %H:%M}"
            f"  {counts.get(d.id, 0):>4} comments  {d.title}"
            for d in drafts
        ]

    lines = run(load, database_url)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(f"{len(lines)} drafts.")


@cli.command("show")
def show(number: str, database_url: str | None = DatabaseUrl) -> None:
    """One draft by its number (e.g. ZQ2026-0001): window, articles, comments by state."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.errors import NotFound
    from smartcity.participation import service
    from smartcity.participation.articles import label

    async def load(session: AsyncSession) -> list[str] | None:
        principal = cli_principal()
        try:
            draft = await service.get_draft_by_number(session, principal, number.strip())
        except NotFound:
            return None
        comments = await service.comments_of(session, principal, draft)
        states: dict[str, int] = {}
        for c in comments:
            states[c.state] = states.get(c.state, 0) + 1
        answered = sum(1 for c in comments if c.answer)
        lines = [
            f"{draft.number}  {draft.kind}  {draft.title}",
            f"state {draft.state}; window {clock.to_city(draft.opens_at):%Y-%m-%d %H:%M} → "
            f"{clock.to_city(draft.closes_at):%Y-%m-%d %H:%M} (Asia/Shanghai)",
            "comments "
            + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none")
            + f"; {answered} answered",
        ]
        for article in await service.articles_of(session, draft):
            lines.append(f"  {label(article.number)} {article.text[:40]}")
        return lines

    lines = run(load, database_url)
    if lines is None:
        console.print(f"[red]There is no draft {number}.[/red]")
        raise typer.Exit(1)
    for line in lines:
        console.print(line, highlight=False, markup=False)


@cli.command("close")
def close(database_url: str | None = DatabaseUrl) -> None:
    """Close now every draft whose window has ended (the job does it every minute)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import console, run
    from smartcity.participation import service

    async def work(session: AsyncSession) -> list[str]:
        return [d.number for d in await service.close_due(session)]

    closed = run(work, database_url)
    console.print(f"{len(closed)} drafts closed{': ' + ', '.join(closed) if closed else '.'}")


@cli.command("figure")
def figure(
    year: int = typer.Option(..., min=2000, max=2100, help="the year of adoption"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Per department: regulations and major public investments adopted in the year, and
    how many were open for online comment for at least 30 days."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import console, run
    from smartcity.participation import service, views
    from smartcity.participation.schemas import FigureRead

    async def load(session: AsyncSession) -> FigureRead:
        return await views.figure_read(session, await service.figure(session, year))

    read = run(load, database_url)

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    for row in read.rows:
        console.print(
            f"{row.department:<10} {row.open_for_comment:>4} of {row.documents:>4}  "
            f"{share(row.share):>5}  {row.department_name}",
            highlight=False,
            markup=False,
        )
    console.print(
        f"{year}: {read.open_for_comment} of {read.documents} open for comment ≥ 30 days "
        f"({share(read.share)}).",
        highlight=False,
        markup=False,
    )
