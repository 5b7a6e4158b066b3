"""Reading what people type: numbers, amounts, dates, phone numbers, options, yes/no.

People answer on their phones, so parsing is generous: full-width digits and
punctuation, Chinese spaces, units after numbers ("12人", "35.5㎡", "12.5万元"),
several ways of writing a month or a day, phone numbers with or without
separators.  What comes out is always JSON-safe and normalised; the type
modules of this package decide which reader a question uses.

Money is always in 万元 (ten thousand yuan); an amount given in 元 is converted.
A two-digit year (85年3月, 85.3) is the latest such year not after today: the
dates asked are births, foundings and filings, never the next century.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from dialogs.qtypes.base import InvalidAnswer, JSONValue
from dialogs.schema import Option, Question

DEFAULT_MAX_CHARS = {"text": 500, "longtext": 20000}
MONEY_PLACES = 4
MIN_YEAR = 1900
MAX_DATE_YEAR = 2100
_MAX_INT_DIGITS = 15


# --------------------------------------------------------------------------- helpers

_DASHES = {ord(c): "-" for c in "‐‑‒–—―−﹣－"}
_TRAILING = "。.!?,;、 "


def clean(text: str) -> str:
    """Half-width, one space between words, stripped, without trailing punctuation."""
    s = unicodedata.normalize("NFKC", text).translate(_DASHES)
    s = re.sub(r"\s+", " ", s).strip()
    return s.rstrip(_TRAILING).strip()


def dec_str(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: "1200", "12.5"."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return d if d.is_finite() else None
    return None


def _unit_of(question: Question) -> str:
    return question.unit or ""


def _bounds_params(question: Question, lo: Decimal | None, hi: Decimal | None) -> dict[str, object]:
    return {
        "min": dec_str(lo) if lo is not None else "",
        "max": dec_str(hi) if hi is not None else "",
        "unit": _unit_of(question),
    }


def _check_bounds(question: Question, value: Decimal, default_min: Decimal | None) -> None:
    lo = question.min if question.min is not None else default_min
    hi = question.max
    if lo is not None and value < lo:
        raise InvalidAnswer("validation.min", **_bounds_params(question, lo, hi))
    if hi is not None and value > hi:
        raise InvalidAnswer("validation.max", **_bounds_params(question, lo, hi))


# --------------------------------------------------------------------------- numbers

_NUMBER_RE = re.compile(
    r"(?P<sign>[+-]?)\s*"
    r"(?:(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?|\.(?P<onlyfrac>\d+))"
    r"\s*(?P<suffix>\D*)"
)
_PREFIXES = (
    "共计",
    "合计",
    "总计",
    "一共",
    "共",
    "人民币",
    "rmb",
    "¥",
    "每年度",
    "每年",
    "年均",
    "全年",
)
_ABOUT = ("大约", "大概", "约")
"""An area or an amount is an estimate by nature (约120平米); a count of people is not."""
_ZERO_WORDS = {"无", "没有", "没", "暂无", "零", "none"}
_SQUARE_METRES = re.compile(r"(?:m\^?2|平米|平方)$", re.IGNORECASE)
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER_RE = re.compile(r"(?P<num>[零〇一二两三四五六七八九十百千万]+)\s*(?P<suffix>\D*)")


# "十几个", "20多人", "100左右": an estimate, not the number the form asks for
_VAGUE = ("几", "多", "来", "余", "左右", "上下", "以上", "以下", "+")
_VAGUE_END = ("左右", "上下", "以上", "以下")


def _is_vague(suffix: str) -> bool:
    suffix = suffix.strip()
    return suffix.startswith(_VAGUE) or suffix.endswith(_VAGUE_END)


def _strip_prefixes(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if s.casefold().startswith(prefix):
                s = s[len(prefix) :].lstrip(" :")
                changed = True
    return s


def _split_number(text: str) -> tuple[Decimal, str] | None:
    """A decimal and what follows it ("35.5平方米" → 35.5, "平方米"), or None."""
    s = _strip_prefixes(clean(text))
    s = re.sub(r"(?<=\d)。(?=\d)", ".", s)  # a Chinese full stop typed as a decimal point
    s = _SQUARE_METRES.sub("平方米", s)
    m = _NUMBER_RE.fullmatch(s)
    if m is None:
        return None
    whole = (m["int"] or "0").replace(",", "")
    if len(whole.lstrip("0")) > _MAX_INT_DIGITS:
        return None
    if _is_vague(m["suffix"]):
        return None
    frac = m["frac"] or m["onlyfrac"] or ""
    value = Decimal(f"{m['sign']}{whole}.{frac}" if frac else f"{m['sign']}{whole}")
    return value, m["suffix"].strip()


def _chinese_int(text: str) -> int | None:
    """Small numbers in Chinese characters: "十二" → 12, "两百零五" → 205, "三万" → 30000."""
    total = section = 0
    digit: int | None = None
    for ch in text:
        if ch in _CN_DIGITS:
            if digit not in (None, 0):
                return None  # "一二" is not a number
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit if digit else 1) * _CN_UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def _apply_multiplier(question: Question, value: Decimal, suffix: str) -> Decimal:
    """ "3万人" → 30000 unless the question's own unit starts with 万 (e.g. 万元)."""
    unit = _unit_of(question)
    for word, factor in (("万", 4), ("亿", 8)):
        if suffix.startswith(word) and not unit.startswith(word):
            return value.scaleb(factor)
    return value


def _zero(text: str) -> bool:
    """无 / 没有 / 零 typed for a number: zero (still checked against the bounds)."""
    return clean(text).casefold().replace(" ", "") in _ZERO_WORDS


def _without_about(text: str) -> str:
    s = clean(text)
    for word in _ABOUT:
        if s.startswith(word):
            return s[len(word) :].lstrip(" :")
    return s


def parse_integer(question: Question, text: str) -> int:
    if _zero(text):
        _check_bounds(question, Decimal(0), Decimal(0))
        return 0
    split = _split_number(text)
    if split is None:
        m = _CN_NUMBER_RE.fullmatch(clean(text))
        vague = m is not None and _is_vague(m["suffix"])
        number = _chinese_int(m["num"]) if m and not vague else None
        if m is None or number is None:
            raise InvalidAnswer("validation.integer")
        split = Decimal(number), ""
    value, suffix = split
    value = _apply_multiplier(question, value, suffix)
    if value != value.to_integral_value():
        raise InvalidAnswer("validation.integer")
    _check_bounds(question, value, Decimal(0))
    return int(value)


def parse_number(question: Question, text: str) -> str:
    if _zero(text):
        _check_bounds(question, Decimal(0), Decimal(0))
        return "0"
    split = _split_number(_without_about(text))
    if split is None:
        raise InvalidAnswer("validation.number")
    value, suffix = split
    value = _apply_multiplier(question, value, suffix)
    _check_bounds(question, value, Decimal(0))
    return dec_str(value)


# suffix (lower case, without a final 整) → power of ten to reach 万元
_MONEY_SUFFIXES = {
    "": 0,
    "万": 0,
    "万元": 0,
    "万块": 0,
    "w": 0,
    "万人民币": 0,
    "万元人民币": 0,
    "元": -4,
    "块": -4,
    "块钱": -4,
    "元人民币": -4,
    "rmb": -4,
    "yuan": -4,
    "千元": -1,
    "千": -1,
    "k": -1,
    "亿": 4,
    "亿元": 4,
}


def parse_money(question: Question, text: str) -> str:
    return read_money(question, text)[0]


def read_money(question: Question, text: str) -> tuple[str, bool]:
    """The amount in 万元, and whether it was a bare number (no unit typed), which
    is the one case where 元 might have been meant."""
    if _zero(text):
        _check_bounds(question, Decimal(0), Decimal(0))
        return "0", False
    split = _split_number(_without_about(text))
    if split is None:
        raise InvalidAnswer("validation.money")
    value, suffix = split
    suffix = suffix.replace(" ", "").casefold()
    for tail in ("/年", "每年", "一年"):
        suffix = suffix.removesuffix(tail)
    suffix = suffix.removesuffix("整")
    if suffix not in _MONEY_SUFFIXES:
        raise InvalidAnswer("validation.money")
    value = value.scaleb(_MONEY_SUFFIXES[suffix])
    exponent = value.normalize().as_tuple().exponent
    if value != 0 and isinstance(exponent, int) and exponent < -MONEY_PLACES:
        raise InvalidAnswer("validation.money_precision", places=MONEY_PLACES)
    _check_bounds(question, value, Decimal(0))
    return dec_str(value), suffix == ""


# --------------------------------------------------------------------------- dates

_YM_RE = re.compile(r"(?P<y>\d{4})\s*(?:年|[-./ ])\s*(?P<m>\d{1,2})\s*(?:月份?)?")
_YM_SHORT_RE = re.compile(r"(?P<y>\d{2})\s*(?:年|[-./])\s*(?P<m>\d{1,2})\s*(?:月份?)?")
_YM_COMPACT_RE = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})")
_DATE_RE = re.compile(
    r"(?P<y>\d{4})\s*(?:年|[-./ ])\s*(?P<m>\d{1,2})\s*(?:月|[-./ ])\s*(?P<d>\d{1,2})\s*[日号]?"
)
_DATE_SHORT_RE = re.compile(
    r"(?P<y>\d{2})\s*(?:年|[-./])\s*(?P<m>\d{1,2})\s*(?:月|[-./])\s*(?P<d>\d{1,2})\s*[日号]?"
)
_DATE_COMPACT_RE = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_TODAY_OFFSETS = {"今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1}


def full_year(short: int, month: int, today: dt.date) -> int:
    """A two-digit year in full: the latest such year whose month has begun by today
    (85 → 1985, 18 → 2018); births, foundings and filings lie in the past."""
    year = today.year - (today.year - short) % 100
    if (year, month) > (today.year, today.month):
        year -= 100
    return year


def _match_date(s: str, today: dt.date) -> tuple[int, int, int] | None:
    m = _DATE_RE.fullmatch(s) or _DATE_COMPACT_RE.fullmatch(s)
    if m is not None:
        return int(m["y"]), int(m["m"]), int(m["d"])
    m = _DATE_SHORT_RE.fullmatch(s)
    if m is not None:
        return full_year(int(m["y"]), int(m["m"]), today), int(m["m"]), int(m["d"])
    return None


def _match_month(s: str, today: dt.date) -> tuple[int, int] | None:
    m = _YM_RE.fullmatch(s) or _YM_COMPACT_RE.fullmatch(s)
    if m is not None:
        return int(m["y"]), int(m["m"])
    m = _YM_SHORT_RE.fullmatch(s)
    if m is not None:
        return full_year(int(m["y"]), int(m["m"]), today), int(m["m"])
    return None


def parse_date(text: str, today: dt.date, *, past: bool = False) -> str:
    return read_date(text, today, past=past)[0]


def read_date(text: str, today: dt.date, *, past: bool = False) -> tuple[str, bool]:
    """The day typed, and whether only a month was typed (then its first day is taken,
    and the caller says so).  ``past``: later than today is refused."""
    s = clean(text)
    offset = _TODAY_OFFSETS.get(s.casefold())
    if offset is not None:
        return (today + dt.timedelta(days=offset)).isoformat(), False
    parts = _match_date(s, today)
    month_only = False
    if parts is None:
        month = _match_month(s, today)
        if month is not None and 1 <= month[1] <= 12:
            parts, month_only = (month[0], month[1], 1), True
    if parts is None or not MIN_YEAR <= parts[0] <= MAX_DATE_YEAR:
        raise InvalidAnswer("validation.date")
    try:
        day = dt.date(*parts)
    except ValueError:
        raise InvalidAnswer("validation.date") from None
    if past and day > today:
        raise InvalidAnswer("validation.future_date", latest=today.isoformat())
    return day.isoformat(), month_only


def parse_yearmonth(text: str, today: dt.date) -> str:
    s = clean(text)
    found = _match_month(s, today)
    if found is not None:
        year, month = found
    else:
        # a whole date is accepted too: the day is dropped
        parts = _match_date(s, today)
        if parts is None:
            raise InvalidAnswer("validation.yearmonth")
        try:
            dt.date(*parts)
        except ValueError:
            raise InvalidAnswer("validation.yearmonth") from None
        year, month = parts[0], parts[1]
    if not 1 <= month <= 12 or year < MIN_YEAR:
        raise InvalidAnswer("validation.yearmonth")
    if (year, month) > (today.year, today.month):
        raise InvalidAnswer("validation.future", latest=f"{today.year:04d}-{today.month:02d}")
    return f"{year:04d}-{month:02d}"


# --------------------------------------------------------------------------- phone

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_AREA_RE = re.compile(r"0(?:10|2\d|[3-9]\d\d)")
_LOCAL_RE = re.compile(r"[2-9]\d{6,7}")
_EXT_RE = re.compile(r"\s*(?:转|分机|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)
_INTL_RE = re.compile(r"(?:\+|00)\s*86[\s-]*")


def _landline(groups: list[str]) -> str | None:
    digits = "".join(groups)
    if not digits.startswith("0"):
        return digits if _LOCAL_RE.fullmatch(digits) else None
    if len(groups) > 1 and len(groups[0]) in (3, 4):
        area = groups[0]
    elif digits.startswith(("010", "02")):
        area = digits[:3]
    else:
        area = digits[:4]
    local = digits[len(area) :]
    if _AREA_RE.fullmatch(area) and _LOCAL_RE.fullmatch(local):
        return f"{area}-{local}"
    return None


def parse_phone(text: str) -> str:
    s = clean(text).replace("(", " ").replace(")", " ").strip()
    ext: str | None = None
    m = _EXT_RE.search(s)
    if m is not None:
        ext, s = m.group(1), s[: m.start()].strip()
    intl = _INTL_RE.match(s)
    if intl is not None:
        s = s[intl.end() :]
    if not re.fullmatch(r"[\d .-]+", s):
        raise InvalidAnswer("validation.phone")
    groups = re.findall(r"\d+", s)
    digits = "".join(groups)
    if intl is None and digits.startswith("86") and _MOBILE_RE.fullmatch(digits[2:]):
        digits = digits[2:]  # 86 13801115618
    if ext is None and _MOBILE_RE.fullmatch(digits):
        return digits
    if intl is not None and not digits.startswith("0"):
        groups[0] = "0" + groups[0]  # +86 411 ... drops the trunk 0 of the area code
    candidates: list[tuple[list[str], str | None]] = [(groups, ext)]
    if ext is None and len(groups) >= 2 and len(groups[-1]) <= 6:
        candidates.append((groups[:-1], groups[-1]))  # 0411-82610410-123
    for main, extension in candidates:
        number = _landline(main)
        if number is not None:
            return f"{number}-{extension}" if extension else number
    raise InvalidAnswer("validation.phone")


# --------------------------------------------------------------------------- choices

_ALL_WORDS = {"全部", "全选", "都选", "以上都是", "以上全部", "all"}


def _option_key(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return re.sub(r"\s+", "", s).casefold().rstrip(_TRAILING)


def _match_option(options: list[Option], token: str) -> Option | None:
    """The option a typed token names: its label, its id, one of its synonyms (大专 for
    大学专科), its number, or a unique part of its label."""
    key = _option_key(token)
    if not key:
        return None
    for option in options:
        if key in (_option_key(option.label), _option_key(option.id)):
            return option
    for option in options:
        if key in (_option_key(word) for word in option.synonyms):
            return option
    m = re.fullmatch(r"(?:第|no\.?|#)?\(?(\d{1,3})\)?[.、:)]?(?:项|个|种|条)?", key)
    if m is not None and 1 <= int(m.group(1)) <= len(options):
        return options[int(m.group(1)) - 1]
    if len(key) >= 2:
        hits = [o for o in options if key in _option_key(o.label)]
        if len(hits) == 1:
            return hits[0]
    return None


def parse_choice(question: Question, text: str) -> str:
    """The id of the option typed (by label, number or a unique part of the label)."""
    found = _match_option(question.options or [], text)
    if found is None:
        raise InvalidAnswer("validation.choice")
    return found.id


def parse_multichoice(question: Question, text: str) -> list[JSONValue]:
    """The ids of the options typed, in the definition's order."""
    options = question.options or []
    whole = _match_option(options, text)
    if whole is not None:
        return [whole.id]
    cleaned = clean(text)
    if cleaned.casefold() in _ALL_WORDS:
        return [o.id for o in options]
    attempts = [
        re.split(r"[,;、/|]+", cleaned),
        re.split(r"[,;、/| ]+", cleaned),
        re.split(r"[,;、/| ]+|和|及|与|以及", cleaned),
    ]
    if re.fullmatch(r"\d{2,9}", cleaned) and len(options) <= 9:
        attempts.append(list(cleaned))  # "135" typed for options 1, 3 and 5
    for tokens in attempts:
        tokens = [t for t in (t.strip() for t in tokens) if t]
        found = [_match_option(options, t) for t in tokens]
        if tokens and all(f is not None for f in found):
            chosen = {f.id for f in found if f is not None}
            return [o.id for o in options if o.id in chosen]
    raise InvalidAnswer("validation.choice")


# --------------------------------------------------------------------------- yes / no

_YES = {
    "是",
    "是的",
    "有",
    "有的",
    "对",
    "对的",
    "好",
    "好的",
    "确认",
    "需要",
    "要",
    "同意",
    "yes",
    "y",
    "true",
    "t",
    "1",
    "ok",
    "√",
    "✓",
    "✔",
}
_NO = {
    "否",
    "不",
    "不是",
    "没有",
    "没",
    "无",
    "不对",
    "不要",
    "不需要",
    "不同意",
    "no",
    "n",
    "false",
    "f",
    "0",
    "×",
    "✗",
    "✘",
}


def parse_yesno(text: str) -> bool:
    key = clean(text).casefold().replace(" ", "")
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise InvalidAnswer("validation.yesno")


# --------------------------------------------------------------------------- text


def char_count(text: str) -> int:
    """Characters as people count them: line breaks are no characters (a text of
    1000 字 in ten paragraphs is 1000, not 1009)."""
    return len(text) - text.count("\n") - text.count("\r")


def parse_text(question: Question, text: str) -> str:
    value = text.strip()
    if not value:
        raise InvalidAnswer("validation.empty")
    limit = question.max_chars or DEFAULT_MAX_CHARS.get(str(question.type), 500)
    length = char_count(value)
    if length > limit:
        raise InvalidAnswer("validation.too_long", max=limit, length=length)
    if question.min_chars is not None and length < question.min_chars:
        raise InvalidAnswer("validation.too_short", min=question.min_chars, length=length)
    return value
