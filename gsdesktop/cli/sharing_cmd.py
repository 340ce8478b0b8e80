"""Sharing commands: share, unshare, acl, shared, group create|delete|add|remove|list.

``gsdesktop url --public PATH`` (the public link) lives with ``url`` in :mod:`gsdesktop.cli.files`. All of
them use :class:`gsdesktop.datamanager.sharing.Sharing`; ``--json`` shapes are part of JSON version 1.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gsdesktop.cli.common import EXIT_CODES_HELP, add_server_options
from gsdesktop.cli.files import remote, with_client
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.sharing import Acl, Group, Kind, Sharing


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def acl_json(acl: Acl) -> dict[str, Any]:
    return {
        "path": acl.path,
        "owner": acl.owner,
        "yourLevel": acl.your_level,
        "entries": [
            {
                "type": e.type,
                "name": e.name,
                "level": e.level,
                "inherited": e.inherited,
                "grantedOn": e.granted_on,
            }
            for e in acl.entries
        ],
        "publicUrl": acl.public_url,
    }


def group_json(g: Group) -> dict[str, Any]:
    return {
        "name": g.name,
        "admins": list(g.admins),
        "members": list(g.members),
        "createdBy": g.created_by,
        "yourRole": g.your_role,
    }


def _whom(args: argparse.Namespace) -> tuple[Kind, str | None]:
    if args.user:
        return "user", args.user
    if args.group:
        return "group", args.group
    return "public", None


def _label(kind: Kind, name: str | None) -> str:
    return "the public" if kind == "public" else f"{kind} {name}"


def acl_lines(acl: Acl) -> list[str]:
    """An ACL as text: the item, its owner and your level, one line per entry, the public link."""
    lines = [f"{acl.path}  owner {acl.owner}  (you: {acl.your_level})"]
    if not acl.entries:
        lines.append("  not shared")
    for e in acl.entries:
        level = "read+write" if e.level == "write" else "read"
        where = f"  (inherited from {e.granted_on})" if e.inherited else ""
        lines.append(f"  {e.type:<6}  {e.name or '*':<20}  {level:<10}{where}".rstrip())
    if acl.public_url:
        lines.append(f"public link: {acl.public_url}")
    return lines


@with_client
def cmd_share(args: argparse.Namespace, client: DataManagerClient) -> int:
    path = remote(client, args.path)
    kind, name = _whom(args)
    acl = Sharing(client).grant(path, kind, name, "write" if args.write else "read")
    if args.json:
        _print_json(acl_json(acl))
        return 0
    print(f"shared {acl.path} with {_label(kind, name)} ({'read+write' if args.write else 'read'})")
    if kind == "public" and acl.public_url:
        print(f"public link: {acl.public_url}")
    return 0


@with_client
def cmd_unshare(args: argparse.Namespace, client: DataManagerClient) -> int:
    path = remote(client, args.path)
    kind, name = _whom(args)
    acl = Sharing(client).revoke(path, kind, name)
    if args.json:
        _print_json(acl_json(acl))
    else:
        print(f"unshared {acl.path} from {_label(kind, name)}")
    return 0


@with_client
def cmd_acl(args: argparse.Namespace, client: DataManagerClient) -> int:
    acl = Sharing(client).acl(remote(client, args.path))
    if args.json:
        _print_json(acl_json(acl))
    else:
        print("\n".join(acl_lines(acl)))
    return 0


@with_client
def cmd_shared(args: argparse.Namespace, client: DataManagerClient) -> int:
    owners = Sharing(client).shared_with_me()
    if args.json:
        _print_json(
            {
                "owners": [
                    {
                        "owner": o.owner,
                        "items": [
                            {"path": i.path, "level": i.level, "isDirectory": i.is_directory} for i in o.items
                        ],
                    }
                    for o in owners
                ]
            }
        )
        return 0
    if not owners:
        print("Nothing is shared with you.")
    for o in owners:
        print(o.owner)
        for i in o.items:
            name = i.path + ("/" if i.is_directory else "")
            print(f"  {'read+write' if i.level == 'write' else 'read':<10}  {name}")
    return 0


def _show_group(args: argparse.Namespace, g: Group, done: str) -> None:
    if args.json:
        _print_json(group_json(g))
    else:
        print(done)


@with_client
def cmd_group_create(args: argparse.Namespace, client: DataManagerClient) -> int:
    g = Sharing(client).create_group(args.name)
    _show_group(args, g, f"created group {g.name} (you are its administrator)")
    return 0


@with_client
def cmd_group_delete(args: argparse.Namespace, client: DataManagerClient) -> int:
    Sharing(client).delete_group(args.name)
    if args.json:
        _print_json({"name": args.name, "deleted": True})
    else:
        print(f"deleted group {args.name}")
    return 0


@with_client
def cmd_group_add(args: argparse.Namespace, client: DataManagerClient) -> int:
    sharing = Sharing(client)
    if args.admin:
        g = sharing.add_admin(args.name, args.user)
        done = f"{args.user} is an administrator of {g.name}"
    else:
        g = sharing.add_member(args.name, args.user)
        done = f"added {args.user} to {g.name}"
    _show_group(args, g, done)
    return 0


@with_client
def cmd_group_remove(args: argparse.Namespace, client: DataManagerClient) -> int:
    sharing = Sharing(client)
    if args.admin:
        g = sharing.remove_admin(args.name, args.user)
        done = f"{args.user} is no longer an administrator of {g.name} (still a member)"
    else:
        g = sharing.remove_member(args.name, args.user)
        done = f"removed {args.user} from {g.name}"
    _show_group(args, g, done)
    return 0


@with_client
def cmd_group_list(args: argparse.Namespace, client: DataManagerClient) -> int:
    groups = Sharing(client).groups()
    if args.json:
        _print_json([group_json(g) for g in groups])
        return 0
    if not groups:
        print("You are in no group.")
    for g in groups:
        others = [m for m in g.members if m not in g.admins]
        print(f"{g.name}  (you: {g.your_role or '-'})")
        print(f"  admins:  {', '.join(g.admins)}")
        print(f"  members: {', '.join(others) or '-'}")
    return 0


# --- registration -------------------------------------------------------------------------------------


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _whom_options(p: argparse.ArgumentParser) -> None:
    whom = p.add_mutually_exclusive_group(required=True)
    whom.add_argument("--user", metavar="NAME", help="a user (by exact user name)")
    whom.add_argument("--group", metavar="NAME", help="a group")
    whom.add_argument("--public", action="store_true", help="everyone, without signing in (read only)")


def register(subparsers: Any) -> None:
    def add(sub: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP
        )
        add_server_options(p)
        p.set_defaults(handler=handler)
        return p

    p = add(subparsers, "share", cmd_share, "share a file or folder with a user, a group or the public")
    _whom_options(p)
    p.add_argument("--write", action="store_true", help="Read, Write & Delete (default: Read only)")
    p.add_argument("--json", action="store_true", help="print the item's ACL")
    p.add_argument("path")
    p = add(subparsers, "unshare", cmd_unshare, "revoke a user's, a group's or the public's access")
    _whom_options(p)
    p.add_argument("--json", action="store_true", help="print the item's ACL")
    p.add_argument("path")
    p = add(subparsers, "acl", cmd_acl, "who may access a file or folder (inherited entries marked)")
    p.add_argument("--json", action="store_true")
    p.add_argument("path")
    p = add(subparsers, "shared", cmd_shared, "what others share with you, by owner")
    p.add_argument("--json", action="store_true")

    group_help = "sharing groups: create, delete, add or remove members and administrators, list"
    g: argparse.ArgumentParser = subparsers.add_parser(
        "group", help=group_help, description=group_help, epilog=EXIT_CODES_HELP
    )
    g.set_defaults(handler=lambda _args: _help(g))
    gsub = g.add_subparsers(dest="group_command", metavar="SUBCOMMAND")
    p = add(gsub, "create", cmd_group_create, "create a group (you become its administrator)")
    p.add_argument("--json", action="store_true", help="print the group")
    p.add_argument("name")
    p = add(gsub, "delete", cmd_group_delete, "delete a group (administrators)")
    p.add_argument("--json", action="store_true")
    p.add_argument("name")
    p = add(gsub, "add", cmd_group_add, "add a member (with --admin: make an administrator)")
    p.add_argument("--admin", action="store_true", help="as an administrator")
    p.add_argument("--json", action="store_true", help="print the group")
    p.add_argument("name")
    p.add_argument("user")
    p = add(gsub, "remove", cmd_group_remove, "remove a member (with --admin: only the administrator rights)")
    p.add_argument("--admin", action="store_true", help="take administrator rights only (stays a member)")
    p.add_argument("--json", action="store_true", help="print the group")
    p.add_argument("name")
    p.add_argument("user")
    p = add(gsub, "list", cmd_group_list, "your groups, their administrators and members")
    p.add_argument("--json", action="store_true")


__all__ = ["register"]
