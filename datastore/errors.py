"""Errors of the data layer, named by what the caller should do."""

from __future__ import annotations


class DataError(Exception):
    """Bad or missing input data: stop, fix the named file or series, run again. Nothing was written."""

    def __init__(self, message: str, *, path: str | None = None, series: str | None = None, line: int | None = None):
        where = ", ".join(
            part
            for part in (
                f"file {path}" if path else "",
                f"series {series}" if series else "",
                f"line {line}" if line is not None else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.series = series
        self.line = line


class UnknownSeries(DataError):
    """A series id that the catalogue or the store does not know."""


class SourceUnavailable(Exception):
    """A remote source (FRED, Alpaca) could not answer now: skip this cycle and try later."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class SourceConfigError(Exception):
    """A remote source refused the request as malformed (400/404, bad key): fix the configuration."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status
