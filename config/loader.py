"""Parse configuration once: defaults, then a variant file, then `--set` overrides, into a frozen `AppConfig`.

Every error names the file (or `--set`), the dotted key, the bad value and what was expected.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from config.schema import RELEASE_RULE_NAMES, AppConfig
from config.secrets import ENV_DATA_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.toml"


class ConfigError(Exception):
    """The configuration is wrong: stop and tell the user which file and key."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; --config takes a TOML file (e.g. examples/variant-no-hedge.toml)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None


def _merge(base: dict[str, Any], overlay: Mapping[str, Any], origin: str, origins: dict[str, str], prefix: str = "") -> None:
    for key, value in overlay.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, origin, origins, dotted + ".")
        else:
            base[key] = copy.deepcopy(value)
            origins[dotted] = origin
            if isinstance(value, Mapping):
                for sub in _leaves(value, dotted + "."):
                    origins[sub] = origin


def _leaves(mapping: Mapping[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for key, value in mapping.items():
        out.append(prefix + key)
        if isinstance(value, Mapping):
            out.extend(_leaves(value, f"{prefix}{key}."))
    return out


def _parse_value(text: str) -> Any:
    """A `--set` value is a TOML literal (numbers, booleans, strings in quotes, arrays); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not sep or not path:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    return path, _parse_value(raw.strip())


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        out = {part: out}
    return out


def _origin_of(loc: Sequence[str | int], origins: Mapping[str, str], sources: Sequence[str]) -> str:
    """Where the value at `loc` came from: its own key's origin, else (a cross-field error on a whole section) the
    latest source that set any key under it (`--set` over a variant file over the defaults)."""
    parts = [str(p) for p in loc]
    dotted = ".".join(parts)
    under = {origin for key, origin in origins.items() if key == dotted or key.startswith(dotted + ".")} if dotted else set(origins.values())
    if under:
        return max(under, key=lambda o: sources.index(o) if o in sources else -1)
    for n in range(len(parts) - 1, 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found:
            return found
    return "configuration"


def valid_keys(model: type[BaseModel] = AppConfig, prefix: str = "") -> list[str]:
    """Every dotted key the schema accepts (free-form tables such as [series.<ID>] stop at their name)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        out.append(dotted)
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += valid_keys(kind, dotted + ".")
    return out


def nearest_key(dotted: str) -> str | None:
    """The valid key closest to a misspelt one, if any is close."""
    keys = valid_keys()
    leaf = dotted.rsplit(".", 1)[0] + "." if "." in dotted else ""
    siblings = [k for k in keys if k.startswith(leaf) and "." not in k[len(leaf):]]
    found = difflib.get_close_matches(dotted, siblings, n=1, cutoff=0.6) or difflib.get_close_matches(dotted, keys, n=1, cutoff=0.75)
    return found[0] if found else None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(err: Mapping[str, Any], origins: Mapping[str, str], sources: Sequence[str]) -> str:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p in RELEASE_RULE_NAMES)]
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    where = _origin_of(loc, origins, sources)
    if err["type"] == "extra_forbidden":
        near = nearest_key(dotted)
        hint = f"did you mean '{near}'?" if near else "see config/default.toml for the valid keys"
        return f"{where}: unknown key '{dotted}' ({hint})"
    if err["type"] == "missing":
        return f"{where}: missing key '{dotted}'"
    got = err.get("input")
    message = str(err["msg"]).removeprefix("Value error, ")
    if isinstance(got, Mapping):  # a cross-field rule of a whole section: its message names the keys
        return f"{where}: [{dotted}] {message}"
    return f"{where}: key '{dotted}' = {_short(got)}: {message}"


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """The parsed config and the files it came from."""

    config: AppConfig
    sources: tuple[str, ...]


def load_config(config_file: Path | None = None, overrides: Sequence[str] = ()) -> LoadedConfig:
    """Defaults <- `config_file` (a full config or a variant holding only what differs) <- `--set` overrides."""
    origins: dict[str, str] = {}
    merged: dict[str, Any] = {}
    sources = [str(DEFAULT_CONFIG)]
    _merge(merged, _read_toml(DEFAULT_CONFIG), str(DEFAULT_CONFIG), origins)
    if config_file is not None and config_file.resolve() != DEFAULT_CONFIG:
        _merge(merged, _read_toml(config_file), str(config_file), origins)
        sources.append(str(config_file))
    for item in overrides:
        path, value = parse_override(item)
        _merge(merged, _nest(path, value), f"--set {item}", origins)
        sources.append(f"--set {item}")
    try:
        cfg = AppConfig.model_validate(merged)
    except ValidationError as exc:
        lines = [_describe(err, origins, sources) for err in exc.errors()]
        if len(lines) == 1:
            raise ConfigError(f"invalid configuration: {lines[0]}") from None
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    state = store_dir(cfg)
    if state.exists() and not state.is_dir():
        raise ConfigError(f"invalid configuration: {origins.get('data.store_dir', 'data.store_dir')}: key 'data.store_dir' = "
                          f"{cfg.data.store_dir!r}: {state} is a file, not a directory: point it at a directory (it is created if missing)")
    return LoadedConfig(cfg, tuple(sources))


def resolve_path(raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def pack_dir(cfg: AppConfig, env: Mapping[str, str]) -> Path:
    """The data pack: `CUTCYCLE_DATA_DIR` when set, else `data.pack_dir`."""
    override = env.get(ENV_DATA_DIR, "").strip()
    return resolve_path(override) if override else resolve_path(cfg.data.pack_dir)


def store_dir(cfg: AppConfig) -> Path:
    return resolve_path(cfg.data.store_dir)
