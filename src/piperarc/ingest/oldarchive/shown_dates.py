"""The dates an old archive's pages show, read back into epoch seconds.

Pipermail shows either the server's local time with the zone's abbreviation, in the form
of C's ctime() ("Thu Nov 12 17:04:16 CST 2009", Mailman 2.1), or the message's own Date
header as it came ("Sun, 13 Jun 1999 02:28:09 -0400 (EDT)", Pipermail 0.05). A date whose
zone is not known is not guessed: a wrong zone is hours off, and a page matched by its
date would then match nothing or, worse, the wrong message.
"""

from __future__ import annotations

import calendar
import re

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

# Minutes east of UTC of the zone abbreviations servers printed. Ambiguous ones (IST is
# India, Ireland or Israel) are left out on purpose: see the module docstring. CST is the
# US one, as every Pipermail host we know of that printed it (RFC 5322 section 4.3 too).
ZONE_OFFSETS: dict[str, int] = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "MET": 60,
    "MEST": 120,
    "MEZ": 60,
    "MESZ": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "MSD": 240,
    "SAST": 120,
    "JST": 540,
    "KST": 540,
    "HKT": 480,
    "SGT": 480,
    "AWST": 480,
    "ACST": 570,
    "ACDT": 630,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "NST": -210,
    "NDT": -150,
    "AST": -240,
    "ADT": -180,
    "EST": -300,
    "EDT": -240,
    "EWT": -240,  # US war and peace time, 1942-1945
    "EPT": -240,
    "CST": -360,
    "CDT": -300,
    "CWT": -300,
    "MST": -420,
    "MDT": -360,
    "MWT": -360,
    "PST": -480,
    "PDT": -420,
    "PWT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
    "HDT": -540,
    "BRT": -180,
    "BRST": -120,
    "ART": -180,
}

_TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_ZONE = r"(?P<zone>[+-]\d{4,}|[A-Za-z]{1,5})"
# ctime() with a zone: "Thu Nov 12 17:04:16 CST 2009", "Sun Mar  4 11:12:33 MST 2001".
_CTIME = re.compile(
    r"^(?:[A-Za-z]{3},?\s+)?(?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    + _TIME
    + r"\s+(?:"
    + _ZONE
    + r"\s+)?(?P<year>\d{4})$"
)
# RFC 5322 (and 822): "Sun, 13 Jun 1999 02:28:09 -0400 (EDT)", "Mon, 14 Jun 99 18:11 EDT".
_RFC = re.compile(
    r"^(?:[A-Za-z]{3},?\s*)?(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3})[A-Za-z]*\.?\s+"
    r"(?P<year>\d{2,4})\s+" + _TIME + r"(?:\s*" + _ZONE + r")?(?:\s*\((?P<comment>[^()]*)\))?$"
)


def shown_date(text: str) -> tuple[int | None, str | None]:
    """The epoch seconds a shown date names, and the zone it named when that zone is not
    known (then the date is None). (None, None) when the text is not a date at all."""
    text = " ".join(text.split())
    match = _CTIME.match(text) or _RFC.match(text)
    if match is None:
        return None, None
    fields = match.groupdict()
    month = _MONTHS.get(fields["month"].lower())
    if month is None:
        return None, None
    year = int(fields["year"])
    if len(fields["year"]) == 2:
        year += 2000 if year < 50 else 1900  # RFC 5322 section 4.3
    elif len(fields["year"]) == 3:
        year += 1900
    zone = fields["zone"]
    offset = _offset(zone)
    if offset is None and fields.get("comment"):
        # "+50579034"-style nonsense in the numeric zone: the comment may still name it.
        offset = _offset(fields["comment"].strip())
    if offset is None:
        return None, zone or "(none)"
    if not (1 <= int(fields["day"]) <= 31 and int(fields["hour"]) < 24):
        return None, None
    try:
        local = calendar.timegm(
            (
                year,
                month,
                int(fields["day"]),
                int(fields["hour"]),
                int(fields["minute"]),
                int(fields["second"] or 0),
                0,
                0,
                0,
            )
        )
    except (ValueError, OverflowError):
        return None, None
    return local - offset * 60, None


def _offset(zone: str | None) -> int | None:
    """Minutes east of UTC of a zone as a date wrote it, or None if not known."""
    if not zone:
        return None
    if zone[0] in "+-" and zone[1:].isdigit() and len(zone) == 5:
        hours, minutes = int(zone[1:3]), int(zone[3:5])
        if hours > 14 or minutes >= 60:
            return None
        sign = -1 if zone[0] == "-" else 1
        return sign * (hours * 60 + minutes)
    return ZONE_OFFSETS.get(zone.upper())
