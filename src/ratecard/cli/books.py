"""`ratecard price-books apply FILE` and `ratecard price-books show NAME`: price books kept in
git, written through the same store and change log as `PUT /admin/price-books/<name>`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ratecard.cli.common import load_settings
from ratecard.errors import RatecardError


@click.group("price-books")
def price_books() -> None:
    """Price books: negotiated and resale prices over the list prices (see the README)."""


@price_books.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--json", "as_json", is_flag=True, help="Print what was applied as JSON.")
def apply(file: str, as_json: bool) -> None:
    """Create or replace the books of FILE (YAML or JSON): one book with its `name`, or a list
    of them. Idempotent: a book whose content is unchanged gets no new version. A created
    book's read key is printed once (it is not stored, only its hash).

    Exit status: 0 when every book was applied, 1 when one was refused (nothing is written
    then: the books of a file are applied together or not at all), 2 when the file or the
    database could not be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.changes.changelog import record_book_change
    from ratecard.db import build_engine
    from ratecard.serving.book_store import BookLimits, put_book

    books = _read_books(Path(file))
    settings = load_settings()
    limits = BookLimits(settings.price_book_max_rules, settings.price_book_max_chain)
    engine = build_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            results = [
                put_book(conn, name, body, now, limits=limits, record=record_book_change)
                for name, body in books
            ]
    except RatecardError as exc:
        raise click.ClickException(f"refused, nothing applied: {exc.detail}") from None
    except SQLAlchemyError as exc:
        raise _Unreadable(f"database unavailable: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    rows = [
        {
            "name": r.book.name,
            "version": r.book.version,
            "created": r.created,
            "changed": r.changed,
            "read_key": r.read_key,
        }
        for r in results
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        what = "created" if row["created"] else "new version" if row["changed"] else "unchanged"
        click.echo(f"{row['name']}: version {row['version']} ({what})")
        if row["read_key"]:
            click.echo(f"  read key (shown once): {row['read_key']}")


@price_books.command()
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(1), default=None, help="That version.")
@click.option("--json", "as_json", is_flag=True, help="Print the book as the API shows it.")
def show(name: str, version: int | None, as_json: bool) -> None:
    """Show book NAME (its current version, or --version) with its rules."""
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.costing.price_books import BookAccess
    from ratecard.db import build_engine
    from ratecard.serving.book_store import get_book

    settings = load_settings()
    engine = build_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            book = get_book(conn, name, BookAccess(admin=True), version)
    except RatecardError as exc:
        raise click.ClickException(exc.detail) from None
    except SQLAlchemyError as exc:
        raise _Unreadable(f"database unavailable: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(
            json.dumps({"name": book.name, "version": book.version, **book.content}, indent=2)
        )
        return
    content = book.content
    base = f", on {content['base']}" if content["base"] else ""
    shown = "public" if content["public"] else "private"
    click.echo(
        f"{book.name}  version {book.version} ({shown}{base}, unmatched: {content['unmatched']})"
    )
    if content["description"]:
        click.echo(f"  {content['description']}")
    for index, rule in enumerate(content["rules"]):
        match = ", ".join(f"{k}={v}" for k, v in rule["match"].items()) or "every model"
        if "set" in rule:
            action = "set " + ", ".join(f"{k}={v}" for k, v in rule["set"].items())
        else:
            action = f"multiply by {rule['multiply']}"
            if "prices" in rule:
                action += " (" + ", ".join(rule["prices"]) + ")"
        when = "".join(
            f" {word} {rule[key]}"
            for word, key in (("from", "from"), ("until", "until"))
            if key in rule
        )
        click.echo(f"  [{index}] {match}: {action}{when}")


class _Unreadable(click.ClickException):
    exit_code = 2


def _read_books(path: Path) -> list[tuple[str, Any]]:
    """The (name, book) pairs of a YAML or JSON file. YAML numbers are read as YAML reads them:
    write decimals as strings ("0.85"), as in JSON, so that no digit is lost to a float."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        data = (
            json.loads(text)
            if path.suffix == ".json"
            else yaml.load(text, Loader=_decimal_loader())  # noqa: S506 (a SafeLoader)
        )
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise _Unreadable(
            f"{path}: not a readable YAML or JSON file ({type(exc).__name__})"
        ) from None
    items = data if isinstance(data, list) else [data]
    books = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _Unreadable(f"{path}: book {index + 1} has no `name`")
        body = {k: v for k, v in item.items() if k != "name"}
        books.append((item["name"], body))
    return books


def _decimal_loader() -> Any:
    """YAML's safe loader, reading a number with a fraction as its text: a price book's
    multiplier written `0.85` stays the decimal 0.85 (parse_book reads text), never the float
    0.84999999999999997779."""
    import yaml

    class NoFloats(yaml.SafeLoader):
        pass

    def as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        return loader.construct_scalar(node)

    NoFloats.add_constructor("tag:yaml.org,2002:float", as_text)
    return NoFloats
