"""README's command summary matches the command line: every command has its line, and each line names
exactly the options `--help` shows (either spelling of an option with two; -h/--help left out)."""

from __future__ import annotations

import re
from pathlib import Path

from gsdesktop.cli.completion import subcommands, walk_parsers
from gsdesktop.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
SERVER_OPTIONS = {"--server", "--username", "-u", "--retries"}  # said once, for every command having them
STORE_OPTIONS = "--data-dir --s3-endpoint --s3-bucket --s3-region"  # what "[store options]" stands for
NOTE = "every command that talks to a server also takes --server URL --username NAME --retries N"


def _summary() -> list[str]:
    """The block's commands, one per entry: continuation lines joined, two commands on a line split."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The command line") :]
    block = section[section.index("```") + 3 :]
    joined: list[str] = []
    for raw in block[: block.index("```")].strip("\n").splitlines():
        code = raw.split("#", 1)[0].rstrip() if not raw.startswith("#") else raw
        if raw.startswith(" ") and joined:
            joined[-1] += " " + code.strip()
        else:
            joined.append(code)
    out: list[str] = []
    for line in joined:
        if line.startswith("#"):
            out.append(line)
            continue
        out.extend("gsdesktop " + part.strip() for part in line.split("gsdesktop ") if part.strip())
    return [ln.replace("[store options]", STORE_OPTIONS) for ln in out]


def _line_for(lines: list[str], path: tuple[str, ...]) -> str | None:
    head = "gsdesktop " + " ".join(path)
    for line in lines:
        if line == head or line.startswith(head + " "):
            return line
    return None


def test_every_command_has_a_line_naming_exactly_its_options() -> None:
    lines = _summary()
    assert any(NOTE in ln for ln in lines), f"the summary must say: {NOTE}"
    problems = []
    for path, parser in walk_parsers(build_parser()):
        if not path or list(subcommands(parser)):
            continue  # the top level and groups like `server` have no options of their own worth a line
        line = _line_for(lines, path)
        if line is None:
            problems.append(f"no line for `gsdesktop {' '.join(path)}`")
            continue
        said = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line.removeprefix("gsdesktop")))
        options = [
            set(a.option_strings) - {"-h", "--help"}
            for a in parser._actions
            if a.option_strings and a.help != "==SUPPRESS=="
        ]
        for strings in options:
            if strings and not (strings & said) and not (strings <= SERVER_OPTIONS):
                problems.append(f"`gsdesktop {' '.join(path)}`: README lacks {'/'.join(sorted(strings))}")
        known = set().union(*options) if options else set()
        for opt in sorted(said - known):
            problems.append(f"`gsdesktop {' '.join(path)}`: README names {opt}, which --help does not have")
    assert not problems, "\n".join(problems)
