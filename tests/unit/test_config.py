from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config.loader import ConfigError, load_config, parse_override
from config.secrets import RedactingFilter, Secret, Secrets


def test_defaults_parse_and_are_frozen() -> None:
    cfg = load_config().config
    assert cfg.alpaca.live is False
    assert cfg.series["CPIAUCSL"].release.rule == "month_day"
    with pytest.raises(Exception, match="frozen"):
        setattr(cfg.fred, "timeout_seconds", 1.0)  # noqa: B010 - assignment must fail at runtime


def test_unknown_key_in_a_variant_names_the_file_and_key(tmp_path: Path) -> None:
    variant = tmp_path / "variant.toml"
    variant.write_text("[fred]\ntimout_seconds = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(variant)
    assert str(variant) in str(err.value)
    assert "fred.timout_seconds" in str(err.value)
    assert "unknown key" in str(err.value)


def test_bad_value_names_key_value_and_expectation(tmp_path: Path) -> None:
    variant = tmp_path / "v.toml"
    variant.write_text("[alpaca]\nfeed = \"nasdaq\"\n")
    with pytest.raises(ConfigError) as err:
        load_config(variant)
    text = str(err.value)
    assert "alpaca.feed" in text and "'nasdaq'" in text and "iex" in text


def test_set_overrides_win_and_parse_toml_literals(tmp_path: Path) -> None:
    variant = tmp_path / "v.toml"
    variant.write_text("[fred]\ntimeout_seconds = 3.0\n")
    loaded = load_config(variant, ["fred.timeout_seconds=7.5", "fred.vintages=true", "alpaca.symbols=[\"IWM\"]"])
    assert loaded.config.fred.timeout_seconds == 7.5
    assert loaded.config.fred.vintages is True
    assert loaded.config.alpaca.symbols == ["IWM"]
    assert loaded.sources[-1].startswith("--set")


def test_set_error_names_the_override() -> None:
    with pytest.raises(ConfigError, match=r"--set fred.max_attempts=0: key 'fred.max_attempts' = 0"):
        load_config(None, ["fred.max_attempts=0"])
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        parse_override("novalue")


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[fred\n")
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(bad)


def test_bad_release_override_is_rejected(tmp_path: Path) -> None:
    variant = tmp_path / "v.toml"
    variant.write_text('[series.CPIAUCSL]\nrelease_overrides = { "2024-01-01" = "soon" }\n')
    with pytest.raises(ConfigError, match=r"series\.CPIAUCSL\.release_overrides"):
        load_config(variant)


def test_secrets_only_from_env_and_never_printed() -> None:
    env = {"APCA_API_KEY_ID": "KEYSENTINEL123", "APCA_API_SECRET_KEY": "SECRETSENTINEL456", "FRED_API_KEY": "FREDSENTINEL789"}
    secrets = Secrets.from_env(env)
    assert secrets.has_alpaca()
    text = repr(secrets) + str(secrets.alpaca_secret_key)
    for value in env.values():
        assert value not in text
    assert secrets.fred_api_key == Secret("FREDSENTINEL789")
    assert Secrets.from_env({}).missing_alpaca() == ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"]


def test_redacting_filter_scrubs_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    flt = RedactingFilter(["FREDSENTINEL789"])
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(flt)
    try:
        try:
            raise ValueError("https://api.example/fred?api_key=FREDSENTINEL789")
        except ValueError:
            logger.exception("fetch failed for %s", "url?api_key=FREDSENTINEL789")
    finally:
        caplog.handler.removeFilter(flt)
    assert "FREDSENTINEL789" not in caplog.text
    assert "***" in caplog.text
