"""Fixed-offset time zones as ReQL spells them (``"+02:00"``), for ``r.make_timezone``."""

from __future__ import annotations

import datetime


class RqlTzinfo(datetime.tzinfo):
    """A fixed UTC offset named by its ``[+-]HH:MM`` string, as the official driver's."""

    def __init__(self, offsetstr: str) -> None:
        sign = -1 if offsetstr.startswith("-") else 1
        hours, minutes = offsetstr.lstrip("+-").split(":")
        self.offsetstr = offsetstr
        # The sign covers the minutes too: "-02:30" is two and a half hours behind UTC.
        self.delta = sign * datetime.timedelta(hours=int(hours), minutes=int(minutes))

    def __getinitargs__(self) -> tuple[str]:
        return (self.offsetstr,)

    def __copy__(self) -> RqlTzinfo:
        return RqlTzinfo(self.offsetstr)

    def __deepcopy__(self, memo: dict) -> RqlTzinfo:
        return RqlTzinfo(self.offsetstr)

    def __repr__(self) -> str:
        return f"RqlTzinfo({self.offsetstr!r})"

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return self.delta

    def tzname(self, dt: datetime.datetime | None) -> str:
        return self.offsetstr

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)
