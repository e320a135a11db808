"""``web`` and ``user``: the secretary's web page, and who may use it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from broadcaster.cli.common import config_file, station_config
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _, set_language

USERS = Path("data") / "users.sqlite"
SECRET = Path("data") / "web-secret"


def _users(args: argparse.Namespace):
    from broadcaster.web.users import UserStore

    config = station_config(args)
    return config, UserStore(config.resolve(USERS))


def _secret(path: Path) -> str:
    """The key that signs session cookies: made once, readable by the station's user only."""
    import os
    import secrets

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def cmd_web(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from broadcaster.web.app import make_app

    config, users = _users(args)
    if not users.users():
        raise BroadcasterError(_("no one can log in yet: add a user first, e.g. "
                                 "'broadcaster user add NAME --role admin'"))  # fmt: skip
    # The page is Chinese first; the station's own answers (errors from the control socket, the
    # renderer) come in one language per process: Chinese, unless config.yaml says English.
    set_language("en" if config.ui_language == "en" else "zh_CN")
    app = make_app(config_file(args), users, _secret(config.resolve(SECRET)), https_only=args.https_only)
    if not args.verbose:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    where = _("the web page is at http://{host}:{port}/").format(host=args.host, port=args.port)
    print(where, file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass(_("password: "))
    if getpass.getpass(_("the same password again: ")) != first:
        raise BroadcasterError(_("the two passwords differ"))
    return first


def cmd_user(args: argparse.Namespace) -> int:
    from broadcaster.cli.common import print_table

    config, users = _users(args)
    try:
        if args.action == "add":
            zones = tuple(z.strip() for z in (args.zones or "").split(",") if z.strip())
            unknown = [z for z in zones if z not in config.zones]
            if unknown:
                raise BroadcasterError(_("unknown zone '{name}'").format(name=unknown[0]))
            users.add(args.name, _password(args), args.role, zones)
            users.audit("(command line)", "user add", args.name, args.role)
            print(_("added {name} ({role})").format(name=args.name, role=_(args.role)))
        elif args.action == "passwd":
            users.set_password(args.name, _password(args))
            users.audit("(command line)", "user passwd", args.name)
            print(_("password of {name} changed").format(name=args.name))
        elif args.action == "remove":
            users.remove(args.name)
            users.audit("(command line)", "user remove", args.name)
            print(_("removed {name}").format(name=args.name))
        else:
            rows = [(_("user"), _("role"), _("zones"))]
            rows += [(u.name, _(u.role), ", ".join(u.zones) or _("all")) for u in users.users()]
            print_table(rows)
    finally:
        users.close()
    return 0
