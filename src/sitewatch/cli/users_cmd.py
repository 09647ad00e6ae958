"""`sitewatch users ...`: the workbench's local accounts (argon2-hashed passwords, three roles)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import Role
from sitewatch.cli.app import users_app
from sitewatch.cli.console import stdout

NameArgument = Annotated[str, typer.Argument(help="User name.", metavar="NAME", show_default=False)]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of standard input (for scripts)."),
]


def _password(from_stdin: bool) -> str:
    """The new password: from stdin when asked (or not a terminal), else prompted twice, hidden."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise InputError("no password on standard input; pipe one line, or run in a terminal to be asked")
        return line.rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _when(value) -> str:
    return value.isoformat()[:16].replace("T", " ") if value else ""


@users_app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    role: Annotated[Role, typer.Option(help="viewer: look; analyst: also review; admin: everything.")] = Role.analyst,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add an account (asks for the password)."""
    from sitewatch.store.accounts import add_user  # lazy: keeps `--help` fast
    from sitewatch.store.audit import cli_actor

    password = _password(password_stdin)
    with ctx.obj.session() as session:
        add_user(session, name, str(role), password, actor=cli_actor())
    stdout.print(f"user {escape(name)} added as {role}")


@users_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Accounts with their roles."""
    from sitewatch.store.accounts import list_users  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        users = list_users(session)
    table = Table(title=f"{len(users)} user(s)")
    for column in ("name", "role", "created", "password changed"):
        table.add_column(column)
    for user in users:
        table.add_row(escape(user.name), user.role, _when(user.created_at), _when(user.password_changed_at))
    stdout.print(table)


@users_app.command("remove")
def remove(ctx: typer.Context, name: NameArgument) -> None:
    """Remove an account and sign it out (its reviews keep its name)."""
    from sitewatch.store.accounts import remove_user  # lazy: keeps `--help` fast
    from sitewatch.store.audit import cli_actor

    with ctx.obj.session() as session:
        remove_user(session, name, actor=cli_actor())
    stdout.print(f"user {escape(name)} removed")


@users_app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: NameArgument,
    role: Annotated[Role | None, typer.Option(help="Also give the account this role.")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password (and role); the account is signed out everywhere."""
    from sitewatch.store.accounts import get_user, set_password  # lazy: keeps `--help` fast
    from sitewatch.store.audit import cli_actor

    with ctx.obj.session() as session:
        get_user(session, name)  # an unknown name is refused before the password is asked
        set_password(session, name, _password(password_stdin), actor=cli_actor(), role=str(role) if role else None)
    stdout.print(f"user {escape(name)}: password changed{f', role {role}' if role else ''}")
