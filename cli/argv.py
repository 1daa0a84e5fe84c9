"""Global options accepted after the subcommand too: `main.py backtest --set strategy.base_weight=0.3`."""

from __future__ import annotations

from collections.abc import Sequence


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
