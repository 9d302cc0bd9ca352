"""``ordercenter persisted-queries``: build the allow-list of ORDERCENTER_PERSISTED_QUERIES."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from graphql import GraphQLError, parse, validate

from app.persisted import load_allowlist, sha256_hex
from internals import graphql_schema


@click.group("persisted-queries")
def persisted_queries() -> None:
    """Persisted operations: hash documents into the allow-list file."""


@persisted_queries.command("hash")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here (for ORDERCENTER_PERSISTED_QUERIES_FILE) instead of printing it.",
)
@click.option("--merge", is_flag=True, help="Keep the entries --output already holds.")
def hash_documents(files: tuple[Path, ...], output: Path | None, merge: bool) -> None:
    """Print {sha256: document} for each FILE.graphql, checked against the schema.

    Each file is one document, hashed byte for byte: clients must send exactly that
    text as `query` (or its hash as extensions.persistedQuery.sha256Hash). Clients
    that rewrite documents (Apollo Client adds __typename) must hash what they send.
    """
    from schema.definition import schema

    entries: dict[str, str] = {}
    if merge and output is not None and output.exists():
        try:
            entries.update(load_allowlist(output))
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    for path in files:
        document = path.read_text(encoding="utf-8")
        try:
            errors = validate(graphql_schema(schema), parse(document))
        except GraphQLError as error:
            errors = [error]
        if errors:
            raise click.ClickException(f"{path}: {errors[0].message}")
        digest = sha256_hex(document)
        entries[digest] = document
        click.echo(f"{digest}  {path}", err=True)
    text = orjson.dumps(entries, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote {len(entries)} operations to {output}", err=True)
