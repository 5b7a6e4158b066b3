"""The applicant's deadline of the year, told when a declaration starts too late.

A program's ``dates`` say when declarations are due each year (Dalian:
「以后每年的截止日期为7月31日，超过期限视为放弃当年申报」).  Whoever starts after
that day this year should know at once, in the seed's own words, rather than
after an hour of typing; the form stays open (a union may still take it).
"""

from __future__ import annotations

import datetime as dt

from dialogs.schema import DateKind, DateRule, Program
from dialogs.view import Msg, Plain, msg


def passed(program: Program, today: dt.date) -> DateRule | None:
    """The applicant's yearly deadline that this year's ``today`` is past, if any."""
    for rule in program.dates:
        if rule.kind is not DateKind.YEARLY or rule.audience != "applicant" or rule.carried_out:
            continue
        if rule.month is None or rule.day is None:
            continue
        if (today.month, today.day) > (rule.month, rule.day):
            return rule
    return None


def notice_for(program: Program, today: dt.date) -> Msg | None:
    """What to say at the start of a declaration begun after the deadline."""
    rule = passed(program, today)
    if rule is None:
        return None
    return msg(
        "parse.deadline.passed", month=rule.month, day=rule.day, cite=Plain(rule.cite.rstrip("。."))
    )
