"""Cron log timestamps -> UTC datetimes; year-less and offset-less ones placed by the host clock.

Syslog repeats one second many times, so results are cached by their text (`Clock.cache`), and the
cache and the hours' UTC starts are shared by the reads of one zone: every host of a fleet logs the
same hours and seconds, and one object per second lets later steps remember what they made of it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from cronops.logs.events import ClockContext

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# Inside the repeated hour of a fall-back, a jump back this large can only be the clock going back;
# syslog lines out of order by a few seconds must not flip it.
_FALL_BACK_JUMP = timedelta(minutes=5)
# Stamps cached for one zone and day: the seconds a fleet's logs share (a host with a job every
# minute logs 11,520 start seconds in an 8-day window), ~7 MB at most.
_CACHE_LIMIT = 1 << 15
_HOURS_LIMIT = 4096  # hours whose UTC start is kept for one zone and day
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# "MM:SS" -> its offset into the hour (SS 60 is a leap second, as syslog writes it)
_INTO_HOUR = {
    f"{minute:02d}:{second:02d}": timedelta(minutes=minute, seconds=second)
    for minute in range(60)
    for second in range(61)
}
_LAST_SECOND = timedelta(minutes=59, seconds=59)


class Clock:
    """Turns one host's timestamps into UTC; one Clock per read, as it tracks the DST fall-back."""

    def __init__(self, ctx: ClockContext) -> None:
        self._zone = ctx.zone
        # a line dated after tomorrow (host time) was written last year
        self._latest_day = ctx.now.astimezone(ctx.zone).date() + timedelta(days=1)
        # Shared with the other reads in the zone on that day: each host of a fleet gets the
        # same datetime for the same second, whose hash and stored text are worked out once
        # (store.run_time); only stamps that mean the same for every read are kept there.
        self.cache = _stamps(ctx.zone, self._latest_day)
        self._hours = _hour_starts(ctx.zone, self._latest_day)
        self._first_pass_max: dict[date, datetime] = {}
        self._second_pass: set[date] = set()

    def syslog(self, stamp: str) -> datetime | None:
        """`Nov  2 04:17:01` or `Nov  2 04:17:01.123456`: host-local, no year."""
        if "." in stamp:
            base, _, fraction = stamp.partition(".")
            at = self.cache.get(base) or self.syslog(base)
            # datetime + timedelta is ~20 times cheaper than .replace(microsecond=...)
            return None if at is None else at + timedelta(0, 0, _micros(fraction))
        # A new second is mostly one of a known hour: the hour's UTC start plus "MM:SS".
        hour, into = self._hours.get(stamp[:-6]), _INTO_HOUR.get(stamp[-5:])
        if not hour or into is None:
            return self._syslog_slow(stamp)
        at = hour + into
        # _remember, inlined: most stamps of a log with few runs a second are met once
        cache = self.cache
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[stamp] = at
        return at

    def iso(self, stamp: str) -> datetime | None:
        """RFC 3339 / ISO 8601: `Z`, `+01:00`, `+0100`, or no offset at all (then host-local)."""
        try:
            at = datetime.fromisoformat(stamp)
        except ValueError:
            return self._iso_long_fraction(stamp)
        try:
            if at.tzinfo is None:
                at, cacheable = self._local(at)
            else:
                at, cacheable = at.astimezone(UTC), True
        except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
            return None
        if cacheable and "." not in stamp:  # a stamp with a fraction never repeats
            self._remember(stamp, at)
        return at

    def _iso_long_fraction(self, stamp: str) -> datetime | None:
        """fromisoformat takes at most 6 fraction digits; some writers give nanoseconds."""
        head, dot, rest = stamp.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if not dot or digits <= 6:
            return None
        return self.iso(f"{head}.{rest[:6]}{rest[digits:]}")

    def _remember(self, stamp: str, at: datetime) -> None:
        # Emptied when full, not an LRU: memory stays flat, and as logs run in time order the
        # seconds a read needs again are met again soon.
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[stamp] = at

    def _syslog_slow(self, stamp: str) -> datetime | None:
        """A stamp in an hour no read has met yet, or in one whose offset changes (DST)."""
        hour_key, into = stamp[:-6], _INTO_HOUR.get(stamp[-5:])
        naive = _local_hour(hour_key, self._latest_day)
        if naive is None or into is None:
            return None
        if hour_key not in self._hours:
            if len(self._hours) >= _HOURS_LIMIT:
                self._hours.clear()
            self._hours[hour_key] = _utc_hour_start(self._zone, naive)
        hour = self._hours.get(hour_key)  # not [hour_key]: a read in another thread may empty it
        if hour is None:
            at, cacheable = self._local(naive + into)
        else:
            at, cacheable = hour + into, True
        if cacheable:
            self._remember(stamp, at)
        return at

    def _local(self, naive: datetime) -> tuple[datetime, bool]:
        """Host-local wall time -> UTC, and whether the answer is safe to cache."""
        local = naive.replace(tzinfo=self._zone)
        if local.utcoffset() <= local.replace(fold=1).utcoffset():  # type: ignore[operator]
            # unambiguous; a time in a spring-forward gap (cron never logs one) keeps fold 0
            return local.astimezone(UTC), True
        return self._fall_back(local).astimezone(UTC), False

    def _fall_back(self, local: datetime) -> datetime:
        """A wall time of the repeated hour: the second pass starts where the times jump back."""
        day = local.date()
        if day in self._second_pass:
            return local.replace(fold=1)
        naive = local.replace(tzinfo=None)
        latest = self._first_pass_max.get(day)
        if latest is not None and naive < latest - _FALL_BACK_JUMP:
            self._second_pass.add(day)
            return local.replace(fold=1)
        if latest is None or naive > latest:
            self._first_pass_max[day] = naive
        return local


@lru_cache(maxsize=32)  # a few days of a fleet's zones, for a long-running TUI
def _stamps(zone: tzinfo, latest_day: date) -> dict[str, datetime]:
    """A stamp's text -> its UTC time, for all the reads in a zone on a day (see _hour_starts)."""
    return {}


@lru_cache(maxsize=32)
def _hour_starts(zone: tzinfo, latest_day: date) -> dict[str, datetime | None]:
    """`Nov  2 04` -> that hour's UTC start, None if its offset changes (DST), for all the reads in
    a zone on a day: the hosts of a fleet log the same hours, and working them out again for each
    host was a quarter of a scan's parse."""
    return {}


def _local_hour(hour_key: str, latest_day: date) -> datetime | None:
    """`Nov  2 04` -> its naive local start, in the latest year that puts it by latest_day."""
    month = _MONTHS.get(hour_key[:3])
    fields = hour_key[4:].split()
    if month is None or len(fields) != 2:
        return None
    day, hour = fields
    if not (day.isdecimal() and hour.isdecimal() and len(hour) == 2):
        return None
    year = _latest_year(month, int(day), latest_day)
    if year is None:
        return None
    try:
        return datetime(year, month, int(day), int(hour))
    except ValueError:
        return None


def _utc_hour_start(zone: tzinfo, naive: datetime) -> datetime | None:
    """The hour's start in UTC if one offset holds for all of it (no DST change), else None."""
    start = naive.replace(tzinfo=zone)
    end = (naive + _LAST_SECOND).replace(tzinfo=zone)
    offsets = {moment.replace(fold=fold).utcoffset() for moment in (start, end) for fold in (0, 1)}
    if len(offsets) != 1:
        return None
    return (naive - offsets.pop()).replace(tzinfo=UTC)  # type: ignore[operator]


def epoch_micros(micros: int) -> datetime:
    """journald's __REALTIME_TIMESTAMP (microseconds since the epoch) -> UTC."""
    return _EPOCH + timedelta(microseconds=micros)


def _latest_year(month: int, day: int, latest_day: date) -> int | None:
    """The latest year that puts month/day on or before latest_day (for Feb 29, a leap year)."""
    for year in range(latest_day.year, latest_day.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            if month == 2 and day == 29:
                continue
            return None
        if candidate <= latest_day:
            return year
    return None


def _micros(fraction: str) -> int:
    digits = fraction[:6]
    return int(digits.ljust(6, "0")) if digits.isdigit() else 0
