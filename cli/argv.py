"""The command line before argparse sees it and after it refuses it: global options accepted after the subcommand
(`main.py backtest --set strategy.base_weight=0.3`), a hint for an option this CLI spells differently, and one
`error:` line for every mistake argparse catches (`Parser`)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse's parser with its refusals on one line: `main.py backtest: error: <what> (`main.py backtest --help`
    shows the usage)`, exit 2. argparse prints the usage block first, which puts the one line that says what is
    wrong below several that do not. Subcommand parsers are of the same class (argparse's default)."""

    def error(self, message: str) -> NoReturn:
        pointer = "" if "--help`" in message else f" (`{self.prog} --help` shows the usage)"
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}{pointer}\n")


def hoist_global_options(argv: Sequence[str], options: Sequence[str], with_value: Sequence[str]) -> list[str]:
    """`argv` with every option of `options` found after the subcommand moved in front of it (argparse only takes
    global options before the subcommand). `with_value` options take the next item as their value unless written
    `--opt=value`. Everything after a bare `--` is left alone (the emulator's own arguments)."""
    items = list(argv)
    front: list[str] = []
    i = 0
    while i < len(items) and items[i].startswith("-") and items[i] != "--":  # the global part before the subcommand
        takes = items[i] in with_value and i + 1 < len(items)
        front += items[i : i + 2] if takes else [items[i]]
        i += 2 if takes else 1
    rest: list[str] = []
    while i < len(items):
        item = items[i]
        if item == "--":
            rest += items[i:]
            break
        name = item.split("=", 1)[0]
        if name in options and "=" in item:
            front.append(item)
            i += 1
        elif name in options and item in with_value and i + 1 < len(items):
            front += items[i : i + 2]
            i += 2
        else:
            rest.append(item)
            i += 1
    return front + rest


# Options people reach for from other tools, and the one this CLI has.
SYNONYMS = {"--from": "--start", "--since": "--start", "--begin": "--start", "--to": "--end", "--until": "--end",
            "--variant": "--config", "--override": "--set", "--date": "--as-of", "--asof": "--as-of", "--out": "--output"}


def chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser that parsed the command `args` names (`data status` is two levels down)."""
    current = parser
    for dest in ("command", "action"):
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, dest, None)
        if not actions or name not in actions[0].choices:
            break
        current = actions[0].choices[name]
    return current


def unknown_options_hint(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: Sequence[str]) -> str:
    """'; did you mean ...' for each unrecognized `--option` in `extra`, from the chosen command's own options (a
    close spelling, or the synonym another tool uses); '' when nothing is close."""
    chosen = chosen_parser(parser, args)
    known = [s for a in chosen._actions for s in a.option_strings if s.startswith("--")] + [s for a in parser._actions for s in a.option_strings
                                                                                         if s.startswith("--")]
    hints = []
    for item in extra:
        name = item.split("=", 1)[0]
        if not name.startswith("--"):
            continue
        match = SYNONYMS.get(name) if SYNONYMS.get(name) in known else None
        match = match or next(iter(difflib.get_close_matches(name, known, n=1, cutoff=0.75)), None)
        if match:
            hints.append(f"{match} (not {name})")
    return f"; did you mean {', '.join(hints)}? (`main.py {chosen.prog.split(' ', 1)[-1]} --help` lists the options)" if hints else ""


def label_text(value: str) -> str:
    """An argparse type for `--label`: printable text only (a control character or an escape sequence in a label
    would be replayed to every terminal that lists the run)."""
    import unicodedata

    bad = sorted({repr(c) for c in value if unicodedata.category(c).startswith("C")})
    if bad:
        raise argparse.ArgumentTypeError(f"a label must be printable text; this one holds {', '.join(bad)}")
    if not value.strip():
        raise argparse.ArgumentTypeError("a label must not be empty")
    return value.strip()
