"""Parsing and formatting of typed answers (dialogs/answers.py)."""

from __future__ import annotations

import datetime as dt
import re
import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import dialogs.answers as answers_module
from dialogs.answers import (
    InvalidAnswer,
    JSONValue,
    error_message,
    example_for,
    format_answer,
    parse_answer,
)
from dialogs.i18n import Locale, load_catalog
from dialogs.schema import QType, Question

TODAY = dt.date(2025, 6, 15)
ZH = Locale("zh-CN")
EN = Locale("en")

OPTIONS = ["劳模创新工作室", "职工创新工作室", "工匠人才创新工作室"]
EN_OPTIONS = ["Model Worker", "Craftsman Studio", "Other"]


def q(qtype: QType | str, **kw: Any) -> Question:
    return Question(id="q", label=kw.pop("label", "测试问题"), type=QType(qtype), **kw)


# (question, typed text, stored value)
ACCEPTED: list[tuple[Question, str, JSONValue]] = [
    # text
    (q("text"), "张建国", "张建国"),
    (q("text"), "  张建国\u3000", "张建国"),
    (q("text"), "大连港集团，技术中心", "大连港集团，技术中心"),
    (q("text"), "x" * 500, "x" * 500),
    (q("text", max_chars=5), "12345", "12345"),
    (q("text", min_chars=2), "张三", "张三"),
    (q("longtext"), "第一行\n第二行", "第一行\n第二行"),
    (q("longtext"), "长" * 20000, "长" * 20000),
    # integer
    (q("integer"), "12", 12),
    (q("integer"), "１２", 12),
    (q("integer"), " 12 ", 12),
    (q("integer"), "12人", 12),
    (q("integer"), "12 个", 12),
    (q("integer"), "12项", 12),
    (q("integer"), "12\u3000项", 12),
    (q("integer"), "12 items", 12),
    (q("integer"), "12。", 12),
    (q("integer"), "0", 0),
    (q("integer"), "+7", 7),
    (q("integer"), "12.0", 12),
    (q("integer"), "1,200", 1200),
    (q("integer"), "１，２００人", 1200),
    (q("integer"), "共12人", 12),
    (q("integer"), "合计 12 项", 12),
    (q("integer"), "3万人", 30000),
    (q("integer"), "1.2万", 12000),
    (q("integer"), "十二", 12),
    (q("integer"), "十二人", 12),
    (q("integer"), "两百零五", 205),
    (q("integer"), "三", 3),
    (q("integer", min=Decimal(-10)), "-3", -3),
    (q("integer", min=Decimal(-10)), "－3", -3),
    (q("integer", min=Decimal(1), max=Decimal(50)), "50", 50),
    # number
    (q("number"), "35.5", "35.5"),
    (q("number"), "35.50", "35.5"),
    (q("number"), "35.5平方米", "35.5"),
    (q("number"), "35.5㎡", "35.5"),
    (q("number"), "35.5 m2", "35.5"),
    (q("number"), "35.5平米", "35.5"),
    (q("number"), "３５．５", "35.5"),
    (q("number"), "35。5", "35.5"),
    (q("number"), "1,200", "1200"),
    (q("number"), "1200", "1200"),
    (q("number"), "3", "3"),
    (q("number"), "3.000", "3"),
    (q("number"), ".5", "0.5"),
    (q("number"), "0", "0"),
    (q("number"), "0.00", "0"),
    (q("number"), "1234567.891", "1234567.891"),
    (q("number", min=Decimal(-5)), "-2.5", "-2.5"),
    (q("number", unit="万元"), "35万元", "35"),
    (q("number", unit="平方米"), "约120平米", "120"),
    (q("number", unit="平方米"), "120㎡", "120"),
    (q("number", unit="平方米"), "120平方米", "120"),
    (q("number", unit="平方米"), "大约 120 平方米", "120"),
    (q("number"), "约35", "35"),
    (q("number"), "无", "0"),
    # money (万元)
    (q("money"), "12.5", "12.5"),
    (q("money"), "12.5万", "12.5"),
    (q("money"), "12.5万元", "12.5"),
    (q("money"), "12.5 万元", "12.5"),
    (q("money"), "１２．５", "12.5"),
    (q("money"), "１２．５万元", "12.5"),
    (q("money"), "12.5万元整", "12.5"),
    (q("money"), "12.5w", "12.5"),
    (q("money"), "125000元", "12.5"),
    (q("money"), "125,000 元", "12.5"),
    (q("money"), "1元", "0.0001"),
    (q("money"), "¥125000元", "12.5"),
    (q("money"), "人民币12.5万元", "12.5"),
    (q("money"), "50千元", "5"),
    (q("money"), "1.2亿元", "12000"),
    (q("money"), "0.0001", "0.0001"),
    (q("money"), "12.50000", "12.5"),
    (q("money"), "3", "3"),
    (q("money"), "0", "0"),
    (q("money"), "1,000", "1000"),
    (q("money"), "每年20万", "20"),
    (q("money"), "20万/年", "20"),
    (q("money"), "每年200000元", "20"),
    (q("money"), "约20万元", "20"),
    (q("money"), "没有", "0"),
    (q("money"), "无", "0"),
    (q("money"), "50000", "50000"),
    # integer: nothing is zero
    (q("integer"), "无", 0),
    (q("integer"), "没有", 0),
    (q("integer"), "零", 0),
    # yearmonth
    (q("yearmonth"), "1985-03", "1985-03"),
    (q("yearmonth"), "1985-3", "1985-03"),
    (q("yearmonth"), "198503", "1985-03"),
    (q("yearmonth"), "1985年3月", "1985-03"),
    (q("yearmonth"), "1985年03月", "1985-03"),
    (q("yearmonth"), "1985 年 3 月", "1985-03"),
    (q("yearmonth"), "1985.3", "1985-03"),
    (q("yearmonth"), "1985.03", "1985-03"),
    (q("yearmonth"), "1985/03", "1985-03"),
    (q("yearmonth"), "1985 3", "1985-03"),
    (q("yearmonth"), "１９８５－０３", "1985-03"),
    (q("yearmonth"), "1985／3", "1985-03"),
    (q("yearmonth"), "1985—3", "1985-03"),
    (q("yearmonth"), "1985-03-15", "1985-03"),
    (q("yearmonth"), "1985年3月15日", "1985-03"),
    (q("yearmonth"), "2025-06", "2025-06"),
    (q("yearmonth"), "1900-01", "1900-01"),
    (q("yearmonth"), "1985-12", "1985-12"),
    # two-digit years: the latest such year not after today (TODAY is 2025-06-15)
    (q("yearmonth"), "85-03", "1985-03"),
    (q("yearmonth"), "85.3", "1985-03"),
    (q("yearmonth"), "81年3月", "1981-03"),
    (q("yearmonth"), "85年3月", "1985-03"),
    (q("yearmonth"), "05年3月", "2005-03"),
    (q("yearmonth"), "25年6月", "2025-06"),
    (q("yearmonth"), "25年7月", "1925-07"),
    (q("yearmonth"), "85.3.15", "1985-03"),
    # date
    (q("date"), "2018-04-20", "2018-04-20"),
    (q("date"), "20180420", "2018-04-20"),
    (q("date"), "2018年4月20日", "2018-04-20"),
    (q("date"), "2018年4月20号", "2018-04-20"),
    (q("date"), "2018.4.20", "2018-04-20"),
    (q("date"), "2018/4/20", "2018-04-20"),
    (q("date"), "2018-4-2", "2018-04-02"),
    (q("date"), "2018 4 20", "2018-04-20"),
    (q("date"), "２０１８．０４．２０", "2018-04-20"),
    (q("date"), "2020-02-29", "2020-02-29"),
    (q("date"), "今天", "2025-06-15"),
    (q("date"), "today", "2025-06-15"),
    (q("date"), "Today", "2025-06-15"),
    (q("date"), "昨天", "2025-06-14"),
    (q("date"), "2026-01-01", "2026-01-01"),
    (q("date"), "18-04-20", "2018-04-20"),
    (q("date"), "18年4月20日", "2018-04-20"),
    (q("date"), "99.12.31", "1999-12-31"),
    # a month where a day is asked: its first day
    (q("date"), "2018-04", "2018-04-01"),
    (q("date"), "2018年4月", "2018-04-01"),
    (q("date"), "201804", "2018-04-01"),
    (q("date"), "85.3", "1985-03-01"),
    (q("date", past=True), "2025-06-15", "2025-06-15"),
    (q("date", past=True), "今天", "2025-06-15"),
    # phone
    (q("phone"), "13801115618", "13801115618"),
    (q("phone"), "138 0111 5618", "13801115618"),
    (q("phone"), "138-0111-5618", "13801115618"),
    (q("phone"), "１３８０１１１５６１８", "13801115618"),
    (q("phone"), "+86 138 0111 5618", "13801115618"),
    (q("phone"), "+8613801115618", "13801115618"),
    (q("phone"), "8613801115618", "13801115618"),
    (q("phone"), "86-13801115618", "13801115618"),
    (q("phone"), "0086 13801115618", "13801115618"),
    (q("phone"), "19912345678", "19912345678"),
    (q("phone"), "0411-82610410", "0411-82610410"),
    (q("phone"), "0411 82610410", "0411-82610410"),
    (q("phone"), "041182610410", "0411-82610410"),
    (q("phone"), "(0411)82610410", "0411-82610410"),
    (q("phone"), "（0411）82610410", "0411-82610410"),
    (q("phone"), "0411－82610410", "0411-82610410"),
    (q("phone"), "0411-8261-0410", "0411-82610410"),
    (q("phone"), "010-65592606", "010-65592606"),
    (q("phone"), "01065592606", "010-65592606"),
    (q("phone"), "020-87654321", "020-87654321"),
    (q("phone"), "0755-2345678", "0755-2345678"),
    (q("phone"), "+86 411 82610410", "0411-82610410"),
    (q("phone"), "+86-10-65592606", "010-65592606"),
    (q("phone"), "82610410", "82610410"),
    (q("phone"), "8261041", "8261041"),
    (q("phone"), "0411-82610410-123", "0411-82610410-123"),
    (q("phone"), "0411-82610410转123", "0411-82610410-123"),
    (q("phone"), "0411-82610410 分机 8001", "0411-82610410-8001"),
    (q("phone"), "0411-82610410 ext. 5", "0411-82610410-5"),
    (q("phone"), "82610410-123", "82610410-123"),
    # choice
    (q("choice", options=OPTIONS), "职工创新工作室", "职工创新工作室"),
    (q("choice", options=OPTIONS), " 职工 创新工作室 ", "职工创新工作室"),
    (q("choice", options=OPTIONS), "2", "职工创新工作室"),
    (q("choice", options=OPTIONS), "２", "职工创新工作室"),
    (q("choice", options=OPTIONS), "2.", "职工创新工作室"),
    (q("choice", options=OPTIONS), "第2项", "职工创新工作室"),
    (q("choice", options=OPTIONS), "(3)", "工匠人才创新工作室"),
    (q("choice", options=OPTIONS), "②", "职工创新工作室"),
    (q("choice", options=OPTIONS), "工匠", "工匠人才创新工作室"),
    (q("choice", options=EN_OPTIONS), "model worker", "Model Worker"),
    (q("choice", options=EN_OPTIONS), "MODELWORKER", "Model Worker"),
    (q("choice", options=["3", "5", "10"]), "3", "3"),
    (q("choice", options=["3", "5", "10"]), "10", "10"),
    (q("choice", options=["3", "5", "10"]), "2", "5"),
    # multichoice
    (q("multichoice", options=OPTIONS), "1、3", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "3,1", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "3，1", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "1；3", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "1 3", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "13", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "1、1、3", ["劳模创新工作室", "工匠人才创新工作室"]),
    (q("multichoice", options=OPTIONS), "2", ["职工创新工作室"]),
    (
        q("multichoice", options=OPTIONS),
        "工匠人才创新工作室、劳模创新工作室",
        ["劳模创新工作室", "工匠人才创新工作室"],
    ),
    (q("multichoice", options=OPTIONS), "职工创新工作室，3", OPTIONS[1:]),
    (q("multichoice", options=OPTIONS), "全部", OPTIONS),
    (q("multichoice", options=OPTIONS), "1和3", [OPTIONS[0], OPTIONS[2]]),
    (q("multichoice", options=["安全和环保", "质量"]), "安全和环保", ["安全和环保"]),
    (q("multichoice", options=["安全和环保", "质量"]), "安全和环保、质量", ["安全和环保", "质量"]),
    (q("multichoice", options=EN_OPTIONS), "Craftsman Studio", ["Craftsman Studio"]),
    (q("multichoice", options=EN_OPTIONS), "other, model worker", ["Model Worker", "Other"]),
    # yesno
    *[(q("yesno"), t, True) for t in
      ["是", "是的", "有", "对", "yes", "Yes", "YES", "y", "true", "1", "１", "是。", " 是 ", "√"]],
    *[(q("yesno"), t, False) for t in
      ["否", "没有", "无", "不是", "不", "no", "No", "n", "false", "0", "否！", "×"]],
]


def _label(case: tuple[Question, str, JSONValue]) -> str:
    return f"{case[0].type}:{case[1][:20]!r}"


@pytest.mark.parametrize("case", ACCEPTED, ids=_label)
def test_accepted(case: tuple[Question, str, JSONValue]) -> None:
    question, text, stored = case
    assert parse_answer(question, text, today=TODAY) == stored


# (question, typed text, error key)
REJECTED: list[tuple[Question, str, str]] = [
    # text
    (q("text"), "", "validation.empty"),
    (q("text"), "   ", "validation.empty"),
    (q("text"), "\u3000\n", "validation.empty"),
    (q("text"), "x" * 501, "validation.too_long"),
    (q("text", max_chars=5), "123456", "validation.too_long"),
    (q("text", min_chars=3), "张三", "validation.too_short"),
    (q("longtext"), "", "validation.empty"),
    (q("longtext"), "长" * 20001, "validation.too_long"),
    (q("longtext", max_chars=10), "长" * 11, "validation.too_long"),
    # integer
    (q("integer"), "", "validation.integer"),
    (q("integer"), "  ", "validation.integer"),
    (q("integer"), "12.5", "validation.integer"),
    (q("integer"), "abc", "validation.integer"),
    (q("integer"), "十几个", "validation.integer"),
    (q("integer"), "一二", "validation.integer"),
    (q("integer"), "20多人", "validation.integer"),
    (q("integer"), "10余项", "validation.integer"),
    (q("integer"), "100左右", "validation.integer"),
    (q("integer"), "12-15", "validation.integer"),
    (q("integer"), "12 13", "validation.integer"),
    (q("integer"), "12,13", "validation.integer"),
    (q("integer"), "1e5", "validation.integer"),
    (q("integer"), "人12", "validation.integer"),
    (q("integer"), "9" * 40, "validation.integer"),
    (q("integer"), "-3", "validation.min"),
    (q("integer", min=Decimal(3)), "2", "validation.min"),
    (q("integer", max=Decimal(50)), "51", "validation.max"),
    (q("integer", max=Decimal(50)), "1万", "validation.max"),
    # number
    (q("number"), "", "validation.number"),
    (q("number"), "abc", "validation.number"),
    (q("number"), "35.5.5", "validation.number"),
    (q("number"), "35,5", "validation.number"),
    (q("number"), "1.2e3", "validation.number"),
    (q("number"), "NaN", "validation.number"),
    (q("number"), "Infinity", "validation.number"),
    (q("number"), "35平方米左右", "validation.number"),
    (q("number"), "-1", "validation.min"),
    (q("number", min=Decimal(10)), "9.99", "validation.min"),
    (q("number", max=Decimal(100)), "100.01", "validation.max"),
    # money
    (q("money"), "", "validation.money"),
    (q("money"), "十万", "validation.money"),
    (q("money"), "12.5美元", "validation.money"),
    (q("money"), "12.5 dollars", "validation.money"),
    (q("money"), "12.5万元12", "validation.money"),
    (q("money"), "12.34567", "validation.money_precision"),
    (q("money"), "0.00001万元", "validation.money_precision"),
    (q("money"), "0.5元", "validation.money_precision"),
    (q("money"), "125000.5元", "validation.money_precision"),
    (q("money"), "-5", "validation.min"),
    (q("money"), "-5万元", "validation.min"),
    (q("money", max=Decimal(1000)), "1000.5", "validation.max"),
    (q("money", min=Decimal(1)), "5000元", "validation.min"),
    # yearmonth
    (q("yearmonth"), "", "validation.yearmonth"),
    (q("yearmonth"), "1985", "validation.yearmonth"),
    (q("yearmonth"), "1985-13", "validation.yearmonth"),
    (q("yearmonth"), "1985-00", "validation.yearmonth"),
    (q("yearmonth"), "198513", "validation.yearmonth"),
    (q("yearmonth"), "85", "validation.yearmonth"),
    (q("yearmonth"), "85年13月", "validation.yearmonth"),
    (q("yearmonth"), "1899-12", "validation.yearmonth"),
    (q("yearmonth"), "三月", "validation.yearmonth"),
    (q("yearmonth"), "1985-02-30", "validation.yearmonth"),
    (q("yearmonth"), "19853", "validation.yearmonth"),
    (q("yearmonth"), "2025-07", "validation.future"),
    (q("yearmonth"), "2026-01", "validation.future"),
    (q("yearmonth"), "2030年1月", "validation.future"),
    # date
    (q("date"), "", "validation.date"),
    (q("date"), "2019-02-29", "validation.date"),
    (q("date"), "2018-04-31", "validation.date"),
    (q("date"), "2018-13-01", "validation.date"),
    (q("date"), "2018-00-10", "validation.date"),
    (q("date"), "20181301", "validation.date"),
    (q("date"), "2018", "validation.date"),
    (q("date"), "2018-13", "validation.date"),
    (q("date"), "18-04-31", "validation.date"),
    (q("date", past=True), "2025-06-16", "validation.future_date"),
    (q("date", past=True), "明天", "validation.date"),
    (q("integer", min=Decimal(1)), "无", "validation.min"),
    (q("date"), "0218-04-20", "validation.date"),
    (q("date"), "明天", "validation.date"),
    (q("date"), "2018-04-20-1", "validation.date"),
    # phone
    (q("phone"), "", "validation.phone"),
    (q("phone"), "1380111561", "validation.phone"),
    (q("phone"), "138011156189", "validation.phone"),
    (q("phone"), "12801115618", "validation.phone"),
    (q("phone"), "abc", "validation.phone"),
    (q("phone"), "138O1115618", "validation.phone"),
    (q("phone"), "0411-826104", "validation.phone"),
    (q("phone"), "0411-826104101", "validation.phone"),
    (q("phone"), "0011-82610410", "validation.phone"),
    (q("phone"), "12345", "validation.phone"),
    (q("phone"), "02610410", "validation.phone"),
    (q("phone"), "13801115618转12", "validation.phone"),
    (q("phone"), "tel: 13801115618", "validation.phone"),
    # choice
    (q("choice", options=OPTIONS), "", "validation.choice"),
    (q("choice", options=OPTIONS), "0", "validation.choice"),
    (q("choice", options=OPTIONS), "4", "validation.choice"),
    (q("choice", options=OPTIONS), "创新", "validation.choice"),
    (q("choice", options=OPTIONS), "技能大师工作室", "validation.choice"),
    (q("choice", options=OPTIONS), "1、2", "validation.choice"),
    # multichoice
    (q("multichoice", options=OPTIONS), "", "validation.choice"),
    (q("multichoice", options=OPTIONS), "4", "validation.choice"),
    (q("multichoice", options=OPTIONS), "1、4", "validation.choice"),
    (q("multichoice", options=OPTIONS), "1、其他", "validation.choice"),
    (q("multichoice", options=OPTIONS), "14", "validation.choice"),
    # yesno
    *[(q("yesno"), t, "validation.yesno") for t in
      ["", "也许", "maybe", "2", "是否", "yes no", "好像是"]],
]


@pytest.mark.parametrize(
    "case", REJECTED, ids=lambda c: f"{c[0].type}:{c[1][:20]!r}"
)
def test_rejected(case: tuple[Question, str, str]) -> None:
    question, text, key = case
    with pytest.raises(InvalidAnswer) as info:
        parse_answer(question, text, today=TODAY)
    assert info.value.key == key


def test_error_params() -> None:
    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("text", max_chars=5), "123456", today=TODAY)
    assert info.value.params == {"max": 5, "length": 6}

    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("text", min_chars=3), "ab", today=TODAY)
    assert info.value.params == {"min": 3, "length": 2}

    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("integer", min=Decimal(1), max=Decimal(50), unit="人"), "60", today=TODAY)
    assert info.value.key == "validation.max"
    assert info.value.params == {"min": "1", "max": "50", "unit": "人"}

    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("integer"), "-3", today=TODAY)
    assert info.value.params["min"] == "0"

    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("choice", options=OPTIONS), "9", today=TODAY)
    assert info.value.key == "validation.choice"  # the options are listed when drawn

    with pytest.raises(InvalidAnswer) as info:
        parse_answer(q("yearmonth"), "2030-01", today=TODAY)
    assert info.value.params == {"latest": "2025-06"}

    err = InvalidAnswer("validation.min", min="0", unit="")
    assert err.key == "validation.min"
    assert err.params == {"min": "0", "unit": ""}
    assert str(err) == "validation.min"


@pytest.mark.parametrize("qtype", ["group", "photo", "file", "sum"])
def test_not_typed_types_refused(qtype: str) -> None:
    question = q(qtype)
    with pytest.raises(ValueError, match="not typed"):
        parse_answer(question, "12", today=TODAY)


def test_stored_values_are_json_safe() -> None:
    for question, text, _ in ACCEPTED:
        value = parse_answer(question, text, today=TODAY)
        assert isinstance(value, str | int | bool | list)
        if question.type in (QType.NUMBER, QType.MONEY):
            assert isinstance(value, str)
            assert "E" not in value
            assert Decimal(value) == Decimal(value).normalize()


# ---------------------------------------------------------------- format_answer

# (question, stored value, iso text, compact text)
FORMATTED: list[tuple[Question, JSONValue, str, str]] = [
    (q("text"), "张建国", "张建国", "张建国"),
    (q("longtext"), "长" * 3000, "长" * 3000, "长" * 3000),
    (q("phone"), "0411-82610410", "0411-82610410", "0411-82610410"),
    (q("choice", options=OPTIONS), "职工创新工作室", "职工创新工作室", "职工创新工作室"),
    (q("integer"), 12, "12", "12"),
    (q("integer", unit="人"), 12, "12 人", "12 人"),
    (q("number"), "35.5", "35.5", "35.5"),
    (q("number", unit="平方米"), "35.5", "35.5 平方米", "35.5 平方米"),
    (q("number"), "1200", "1200", "1200"),
    (q("money"), "12.5", "12.5 万元", "12.5 万元"),
    (q("money"), "3", "3 万元", "3 万元"),
    (q("sum"), "20.5", "20.5 万元", "20.5 万元"),
    (q("sum", unit="人"), 20, "20 人", "20 人"),
    (q("yearmonth"), "1985-03", "1985-03", "198503"),
    (q("date"), "2018-04-20", "2018-04-20", "20180420"),
    (q("yesno"), True, "是", "是"),
    (q("yesno"), False, "否", "否"),
    (
        q("multichoice", options=OPTIONS),
        ["劳模创新工作室", "工匠人才创新工作室"],
        "劳模创新工作室、工匠人才创新工作室",
        "劳模创新工作室、工匠人才创新工作室",
    ),
    (q("photo"), ["a.jpg", "b.jpg"], "已上传 2 个文件", "已上传 2 个文件"),
    (q("file"), ["a.pdf"], "已上传 1 个文件", "已上传 1 个文件"),
    (q("file"), 3, "已上传 3 个文件", "已上传 3 个文件"),
    (q("text"), None, "（未填）", "（未填）"),
    (q("date"), None, "（未填）", "（未填）"),
    (q("money"), None, "（未填）", "（未填）"),
]


@pytest.mark.parametrize(
    "case", FORMATTED, ids=lambda c: f"{c[0].type}:{str(c[1])[:20]}"
)
def test_format_answer(case: tuple[Question, JSONValue, str, str]) -> None:
    question, value, iso, compact = case
    assert format_answer(question, value, locale=ZH) == iso
    assert format_answer(question, value, locale=ZH, date_style="iso") == iso
    assert format_answer(question, value, locale=ZH, date_style="compact") == compact


def test_format_answer_english() -> None:
    assert format_answer(q("yesno"), True, locale=EN) == "yes"
    assert format_answer(q("yesno"), False, locale=EN) == "no"
    assert format_answer(q("text"), None, locale=EN) == "(skipped)"
    assert format_answer(q("multichoice"), ["a", "b"], locale=EN) == "a, b"
    assert format_answer(q("date"), "2018-04-20", locale=EN, date_style="compact") == "20180420"


def test_format_round_trips_parsed_values() -> None:
    for question, text, _ in ACCEPTED:
        value = parse_answer(question, text, today=TODAY)
        shown = format_answer(question, value, locale=ZH)
        if question.type in (QType.TEXT, QType.LONGTEXT, QType.PHONE, QType.CHOICE):
            assert shown == value
        assert shown


def test_format_answer_refuses_groups_and_unknown_styles() -> None:
    with pytest.raises(ValueError, match="row by row"):
        format_answer(q("group"), [], locale=ZH)
    with pytest.raises(ValueError, match="date style"):
        format_answer(q("date"), "2018-04-20", locale=ZH, date_style="us")


def test_format_answer_tolerates_odd_stored_values() -> None:
    assert format_answer(q("money"), "oops", locale=ZH) == "oops"
    assert format_answer(q("integer"), "12", locale=ZH) == "12"
    assert format_answer(q("number"), 3, locale=ZH) == "3"


# ---------------------------------------------------------------- examples and messages


@pytest.mark.parametrize("qtype", [t.value for t in QType])
def test_example_default_per_type(qtype: str) -> None:
    question = q(qtype)
    for locale, lang in ((ZH, "zh-CN"), (EN, "en")):
        example = example_for(question, locale=locale)
        assert example
        assert example == load_catalog(lang)[f"validation.examples.{qtype}"]


@pytest.mark.parametrize(
    "qtype", ["text", "integer", "number", "money", "yearmonth", "date", "phone", "yesno"]
)
def test_default_examples_are_accepted(qtype: str) -> None:
    question = q(qtype)
    for locale in (ZH, EN):
        parse_answer(question, example_for(question, locale=locale), today=TODAY)


def test_example_for() -> None:
    assert example_for(q("integer", example="8"), locale=ZH) == "8"
    assert example_for(q("choice", options=OPTIONS), locale=ZH) == "劳模创新工作室"
    assert example_for(q("multichoice", options=OPTIONS), locale=ZH) == (
        "劳模创新工作室、职工创新工作室"
    )
    # the default example respects the question's bounds
    assert example_for(q("integer", min=Decimal(20)), locale=ZH) == "20"
    assert example_for(q("integer", max=Decimal(5)), locale=ZH) == "5"
    assert example_for(q("money", max=Decimal(10)), locale=ZH) == "10"
    assert example_for(q("integer", max=Decimal("2.5")), locale=ZH) == "2"
    assert example_for(q("integer", min=Decimal("12.5")), locale=ZH) == "13"


def _raise(question: Question, text: str) -> InvalidAnswer:
    with pytest.raises(InvalidAnswer) as info:
        parse_answer(question, text, today=TODAY)
    return info.value


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: f"{c[0].type}:{c[1][:20]!r}")
def test_error_message_has_example(case: tuple[Question, str, str]) -> None:
    question, text, _ = case
    err = _raise(question, text)
    for locale in (ZH, EN):
        message = error_message(question, err, locale=locale)
        example = example_for(question, locale=locale)
        assert example in message
        assert "{" not in message
        assert "}" not in message


def test_error_message_texts() -> None:
    integer = q("integer", label="团队人数", example="12")
    msg = error_message(integer, _raise(integer, "abc"), locale=ZH)
    assert msg.startswith("没能识别出整数")
    assert "例如：12" in msg

    bounded = q("integer", min=Decimal(3), max=Decimal(50), unit="人")
    msg = error_message(bounded, _raise(bounded, "60"), locale=ZH)
    assert "不能大于 50 人" in msg
    msg = error_message(bounded, _raise(bounded, "1"), locale=EN)
    assert "less than 3 人" in msg

    money = q("money")
    msg = error_message(money, _raise(money, "-1"), locale=ZH)
    assert "不能小于 0 万元" in msg

    plain = q("integer")
    msg = error_message(plain, _raise(plain, "-1"), locale=ZH)
    assert "不能小于 0。" in msg

    text = q("text", label="工作室名称", example="王建国劳模创新工作室")
    msg = error_message(text, _raise(text, " "), locale=ZH)
    assert "工作室名称" in msg
    assert "王建国劳模创新工作室" in msg

    choice = q("choice", options=OPTIONS)
    msg = error_message(choice, _raise(choice, "9"), locale=ZH)
    assert "1. 劳模创新工作室\n2. 职工创新工作室\n3. 工匠人才创新工作室" in msg

    multi = q("multichoice", options=OPTIONS)
    msg = error_message(multi, _raise(multi, "9"), locale=ZH)
    assert "多选" in msg
    assert "劳模创新工作室、职工创新工作室" in msg

    ym = q("yearmonth")
    msg = error_message(ym, _raise(ym, "2030-01"), locale=ZH)
    assert "2025-06" in msg

    long = q("text", max_chars=5)
    msg = error_message(long, _raise(long, "123456"), locale=ZH)
    assert "最多 5 个字" in msg
    assert "6 个字" in msg


# ---------------------------------------------------------------- catalogs


def _validation_keys(lang: str) -> set[str]:
    return {k for k in load_catalog(lang) if k.startswith("validation.")}


def test_catalogs_have_identical_keys() -> None:
    zh, en = _validation_keys("zh-CN"), _validation_keys("en")
    assert zh
    assert zh == en


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogs_use_the_same_placeholders() -> None:
    zh, en = load_catalog("zh-CN"), load_catalog("en")
    for key in _validation_keys("zh-CN"):
        assert _fields(zh[key]) == _fields(en[key]), key


NON_ERROR_KEYS = {
    "validation.skipped",
    "validation.yes",
    "validation.no",
    "validation.files",
    "validation.list_separator",
    "validation.money_unit",
    "validation.multichoice",  # message for validation.choice on a multichoice question
    "validation.unit_after",
    "validation.option_line",
}


def test_every_raised_key_exists_in_both_catalogs() -> None:
    folder = Path(answers_module.__file__).parent
    source = "".join(
        p.read_text(encoding="utf-8")
        for p in [folder / "answers.py", folder / "render.py", *(folder / "qtypes").glob("*.py")]
    )
    in_source = set(re.findall(r'"(validation\.[a-z_]+)"', source))
    raised = {key for _, _, key in REJECTED}
    # the rejected table exercises every error key the parser can raise
    assert in_source - NON_ERROR_KEYS == raised
    for lang in ("zh-CN", "en"):
        catalog = load_catalog(lang)
        missing = sorted(k for k in in_source | raised if k not in catalog)
        assert not missing, (lang, missing)


def test_error_templates_say_example() -> None:
    for lang in ("zh-CN", "en"):
        catalog = load_catalog(lang)
        for key in {k for _, _, k in REJECTED} | {"validation.multichoice"}:
            assert "{example}" in catalog[key], (lang, key)
