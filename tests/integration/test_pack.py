"""The data pack end to end, and every kind of bad input giving a clear error with nothing written half-way."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.schema import AppConfig
from datastore.errors import DataError
from datastore.pack_import import import_pack
from datastore.store import Store

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_whole_pack_lands_in_the_store(pack_store: Store, app_config: AppConfig) -> None:
    assert set(pack_store.series_ids()) == set(app_config.series)
    assert set(pack_store.symbols()) == set(app_config.prices)
    assert len(pack_store.meetings()) == 374
    cpi = pack_store.observations("CPIAUCSL")
    assert cpi["value"].notna().all() and len(cpi) == 951
    # DTB3 keeps its holiday rows as missing values, never zero.
    dtb3 = pack_store.observations("DTB3")
    assert dtb3["value"].isna().sum() == 796 and (dtb3["value"] != 0).any()
    iwm = pack_store.bars("IWM")
    assert iwm.index[0] == datetime(2000, 5, 26) and len(iwm) == 6547


def test_bars_are_known_at_the_session_close(pack_store: Store) -> None:
    iwm = pack_store.bars("IWM")
    assert iwm.loc["2024-11-27", "available_at"] == datetime(2024, 11, 27, 21, 0, tzinfo=UTC)  # 16:00 EST
    assert iwm.loc["2024-11-29", "available_at"] == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)  # half day, 13:00 EST
    assert iwm.loc["2024-07-01", "available_at"] == datetime(2024, 7, 1, 20, 0, tzinfo=UTC)  # 16:00 EDT
    vix = pack_store.bars("VIX")
    assert vix.loc["2024-07-01", "available_at"] == datetime(2024, 7, 1, 20, 15, tzinfo=UTC)


def test_reimport_is_a_no_op(pack_store: Store, app_config: AppConfig, pack_dir: Path) -> None:
    result = import_pack(pack_store, app_config, pack_dir, NOW)
    assert result.imported == []


@pytest.fixture
def pack_copy(tmp_path: Path, pack_dir: Path) -> Path:
    dest = tmp_path / "pack"
    shutil.copytree(pack_dir, dest)
    return dest


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(needle):
            return n
    raise AssertionError(needle)


BAD_INPUTS = [
    ("fred/UNRATE.csv", "2024-03-01,3.9", "2024-03-xx,3.9", "UNRATE", "bad date '2024-03-xx'"),
    ("fred/UNRATE.csv", "2024-03-01,3.9", "2024-03-01,three", "UNRATE", "non-numeric value 'three'"),
    ("fred/UNRATE.csv", "2024-03-01,3.9", "2024-02-01,3.9", "UNRATE", "duplicate date 2024-02-01"),
    ("fred/UNRATE.csv", "2024-03-01,3.9\n2024-04-01,3.9", "2024-04-01,3.9\n2024-03-01,3.9", "UNRATE", "not sorted"),
    ("fred/UNRATE.csv", "2024-03-01,3.9\n", "", "UNRATE", "gap: month 2024-03 missing"),
    ("fred/NFCI.csv", "2024-03-08,", "2024-03-09,", "NFCI", "gap"),
    ("prices/IWM.csv", "2024-03-01,", "2024-03-01,abc", "IWM", "non-numeric open"),
]


@pytest.mark.parametrize(("rel", "old", "new", "series", "message"), BAD_INPUTS)
def test_bad_input_names_file_series_and_line_and_writes_nothing(
    pack_copy: Path, tmp_path: Path, app_config: AppConfig, rel: str, old: str, new: str, series: str, message: str
) -> None:
    path = pack_copy / rel
    _rewrite(path, old, new)
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(DataError) as err:
        import_pack(store, app_config, pack_copy, NOW)
    text = str(err.value)
    assert str(path) in text and f"series {series}" in text and "line " in text and message in text
    assert err.value.line is not None
    assert store.datasets() == []  # nothing written half-way


def test_error_line_number_is_the_csv_line(pack_copy: Path, tmp_path: Path, app_config: AppConfig) -> None:
    path = pack_copy / "fred/CPIAUCSL.csv"
    line = _line_of(path, "2020-05-01")
    _rewrite(path, "2020-05-01,", "2020-05-01,n/a")
    with pytest.raises(DataError) as err:
        import_pack(Store(tmp_path / "s.sqlite"), app_config, pack_copy, NOW)
    assert err.value.line == line


def test_failed_reimport_keeps_the_previous_data(pack_copy: Path, tmp_path: Path, app_config: AppConfig) -> None:
    store = Store(tmp_path / "s.sqlite")
    import_pack(store, app_config, pack_copy, NOW)
    before = store.observations("UNRATE")
    _rewrite(pack_copy / "fred/PAYEMS.csv", "2024-03-01,", "2024-03-01,x")
    _rewrite(pack_copy / "fred/UNRATE.csv", "2024-03-01,3.9", "2024-03-01,4.9")
    with pytest.raises(DataError):
        import_pack(store, app_config, pack_copy, NOW)
    assert store.observations("UNRATE").equals(before)


def test_missing_pack_and_missing_file(tmp_path: Path, pack_copy: Path, app_config: AppConfig) -> None:
    with pytest.raises(DataError, match="data pack directory not found"):
        import_pack(Store(tmp_path / "a.sqlite"), app_config, tmp_path / "nowhere", NOW)
    (pack_copy / "fred/ICSA.csv").unlink()
    with pytest.raises(DataError, match=r"ICSA.csv, series ICSA: file not found"):
        import_pack(Store(tmp_path / "b.sqlite"), app_config, pack_copy, NOW)


def test_unknown_series_is_a_clear_error(pack_store: Store) -> None:
    with pytest.raises(DataError, match="series NOPE"):
        pack_store.observations("NOPE")


# -- price checks at import (R40) --------------------------------------------------------------------------------


def _scale_prices(path: Path, factor: float, *, since: str, until: str = "9999") -> None:
    """Multiply open/high/low/close of the rows dated in [since, until] (a split-like step, or a spike)."""
    lines = path.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if since <= cells[0] <= until:
            cells[1:6] = [f"{float(c) * factor:.6f}" for c in cells[1:6]]
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n")


def _drop_row(path: Path, day: str) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith(day)) + "\n")


def _set_close(path: Path, day: str, value: str) -> None:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(day):
            cells = line.split(",")
            cells[1:6] = [value] * 5
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


BAD_PRICES = [
    # a split-like -50 % gap in IWM from 2024-03-04 on, with no move in the Russell 2000
    ("IWM.csv", lambda p: _scale_prices(p, 0.5, since="2024-03-04"), "2024-03-04", "IWM", "while RUT moved"),
    # the same after the RUT file ends (2026-02-20): no index to confirm the move
    ("IWM.csv", lambda p: _scale_prices(p, 0.5, since="2026-04-01"), "2026-04-01", "IWM", "no index to confirm it"),
    # a one-day x10 spike in an index
    ("VIX.csv", lambda p: _scale_prices(p, 10, since="2019-05-06", until="2019-05-06"), "2019-05-06", "VIX", "one-day spike"),
    # a session missing against the NYSE calendar
    ("SPY.csv", lambda p: _drop_row(p, "2021-07-14"), "2021-07-15", "SPY", "NYSE session 2021-07-14 is missing"),
    # non-positive and absurd values
    ("GSPC.csv", lambda p: _set_close(p, "2010-06-01", "0"), "2010-06-01", "GSPC", "non-positive price"),
    ("RUT.csv", lambda p: _set_close(p, "2010-06-01", "-5"), "2010-06-01", "RUT", "non-positive price"),
    ("IWM.csv", lambda p: _set_close(p, "2010-06-01", "2e9"), "2010-06-01", "IWM", "implausible price"),
    # a huge cell
    ("SPY.csv", lambda p: _set_close(p, "2010-06-01", "1" * 5000), "2010-06-01", "SPY", "5,000 characters"),
]


@pytest.mark.parametrize(("name", "damage", "day", "series", "message"), BAD_PRICES)
def test_bad_prices_are_refused_naming_file_and_line(
    pack_copy: Path, tmp_path: Path, app_config: AppConfig, name: str, damage: object, day: str, series: str, message: str
) -> None:
    path = pack_copy / "prices" / name
    damage(path)  # type: ignore[operator]
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(DataError) as err:
        import_pack(store, app_config, pack_copy, NOW)
    text = str(err.value)
    assert str(path) in text and f"series {series}" in text and message in text, text
    assert err.value.line == _line_of(path, day)
    assert store.datasets() == []


def test_a_huge_file_is_refused_before_it_is_read(pack_copy: Path, tmp_path: Path, app_config: AppConfig) -> None:
    """A 38 MB FRED file with dates to the year 7500: refused by its size, in bounded memory."""
    path = pack_copy / "fred" / "DGS10.csv"
    with path.open("a") as fh:
        row = "7500-01-01,4.0\n"
        fh.write(row * (38_000_000 // len(row)))
    with pytest.raises(DataError, match=r"DGS10.csv, series DGS10: file is 38\.\d MB, over the 16 MB limit"):
        import_pack(Store(tmp_path / "s.sqlite"), app_config, pack_copy, NOW)


def test_an_implausible_date_is_refused(pack_copy: Path, tmp_path: Path, app_config: AppConfig) -> None:
    path = pack_copy / "fred" / "DGS10.csv"
    with path.open("a") as fh:
        fh.write("7500-01-01,4.0\n")
    with pytest.raises(DataError, match=r"implausible date 7500-01-01") as err:
        import_pack(Store(tmp_path / "s.sqlite"), app_config, pack_copy, NOW)
    assert err.value.line == len(path.read_text().splitlines())
