"""The five built-in program definitions, checked against their seed documents.

The seed forms' labels, opinion boxes and dates are copied here by hand from
/work/shared/seeds/ (000_… to 004_…): union staff compare the bot's output with
the paper form, so a label drifting from the printed one is a bug.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.loader import BUILTIN_DIR, DefinitionError, load_program, load_registry
from dialogs.schema import Acts, DateKind, Program, QType

# The seeds live in shared/, beside the repository (as in CI's checkout).
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"

EXPECTED_IDS = {
    "dalian-worker": ("000_1b70919e2b23162d.txt", "大连市总工会 · 职工创新工作室（岗）"),
    "dalian-model": ("001_5adaa829aa338e96.txt", "大连市总工会 · 劳模创新工作室"),
    "beijing-worker": ("002_b8f932f56a58954c.txt", "北京市总工会 · 职工创新工作室"),
    "cccc-model": (
        "003_a871e5083b2626cb.txt",
        "中国交建工会联合会 · 劳模（工匠人才）创新工作室",
    ),
    "yangpu-model": (
        "004_dd60f248d51155d6.txt",
        "杨浦区总工会 · 劳模（先进）、技师创新工作室",
    ),
}

# Labels the applicant fills in, as printed on each seed's form.  A label is
# found when a question label equals it or contains it (composite labels such
# as "成员总数/场所面积 · 场所面积"); the columns of repeating tables are in
# GROUP_COLUMNS.  002 and 004 print no form: their labels are the notice's own
# words for what it requires.  The tables below keep several labels a line, as
# the forms print them (fmt: off).
# fmt: off
FORM_LABELS: dict[str, list[str]] = {
    "dalian-worker": [
        "申报单位（公章）", "申报日期", "申报名称", "团队成员基本情况",
        "岗位工作职责", "团队创新成果",
    ],
    "dalian-model": [
        "申报单位", "申报日期", "姓名", "性别", "出生年月", "学历", "职称/技术等级",
        "劳模最高荣誉", "所在单位", "主要工作成绩和成果", "工作地点", "面积", "配套资金",
        "工作设备清单", "工作室参与人员情况", "主要工作计划和工作目标", "备注",
    ],
    "beijing-worker": [
        "工作室名称", "负责人姓名", "工作室人数", "基本活动场所和设备设施",
        "管理和工作制度、规划目标", "工作经费", "近年来工作内容", "科研项目和取得的其他成绩",
        "下一步的工作计划和工作目标", "创新成果", "照片", "领军人本人蓝底证件照",
    ],
    "cccc-model": [
        # cover
        "工作室名称", "所在单位", "单位类型", "推荐单位", "填报日期",
        # table
        "创建日期", "命名单位*", "专业领域", "命名日期", "工作室类型",
        "成员总数/场所面积 · 成员总数", "成员总数/场所面积 · 场所面积",
        "经费投入",
        "创新成果", "成果转化", "专利类别 · 实用新型", "专利类别 · 发明",
        "获奖等级 · 国际", "获奖等级 · 国家", "获奖等级 · 省部", "获奖等级 · 地市",
        "经济效益*",
        "总数", "技术等级 · 双重职称", "技术等级 · 高级技师", "技术等级 · 技师",
        "技术等级 · 高级工", "技术等级 · 其他", "荣誉 · 全国劳模", "荣誉 · 省部级劳模",
        "荣誉 · 地市级劳模", "荣誉 · 企业劳模",
        "社会效益",
        "工作室领衔人情况 · 姓名", "性别", "出生年月", "学历", "民族", "政治面貌",
        "专业/工种", "技术职称", "联系电话", "获奖年份及荣誉称号*",
        "工作室骨干成员情况", "创新工作室业绩简介（不少于1000字）",
    ],
    "yangpu-model": [
        "带头人姓名", "攻关方向", "工作室名称", "团队成员（除带头人外）", "攻关项目或创新课题",
        "年度工作计划", "创新成果", "基本场所、设备设施", "团队工作制度和活动计划",
        "日常工作和活动经费",
    ],
}

# Columns of the tables that repeat per person or per year, as printed.
GROUP_COLUMNS: dict[str, dict[str, list[str]]] = {
    "dalian-worker": {
        "团队成员基本情况": ["姓名", "性别", "出生年月", "学历", "职级", "工种"],
    },
    "dalian-model": {
        "工作室参与人员情况": [
            "姓名", "性别", "出生年月", "学历", "职称/技术等级", "所在单位", "主要分工",
        ],
    },
    "beijing-worker": {"主要成员": ["姓名"]},
    "cccc-model": {
        "经费投入（万元）": ["年度", "投入金额", "经费来源"],
        "经济效益*（万元）": ["年度", "创收金额", "节资金额", "合计"],
        "工作室骨干成员情况": [
            "姓名", "性别", "出生年月", "学历", "技术职称", "所在部门", "主要分工",
        ],
    },
    "yangpu-model": {"团队成员（除带头人外）": ["姓名"]},
}

# Opinion boxes in the order the form prints them (000, 001, 003).  002 and 004
# print no form; for them the chain's reviewers follow the text's order.
OPINION_LABELS: dict[str, list[str]] = {
    "dalian-worker": ["基层工会推荐意见", "县市区、产业工会审核意见", "市总工会命名审批意见"],
    "dalian-model": ["申报单位意见", "申报工会意见", "区市县、产业工会意见", "市总工会审核意见"],
    "beijing-worker": [],
    "cccc-model": [
        "所在单位工会意见", "所在单位技术部门意见", "所在单位党委意见",
        "中国交建工会联合会审批意见",
    ],
    "yangpu-model": [],
}

# fmt: on

REVIEW_ACTIONS: dict[str, list[str]] = {
    "dalian-worker": ["推荐", "审核", "审批"],
    "beijing-worker": ["推荐", "推荐", "认定"],
    "cccc-model": ["推荐", "审核", "同意", "审批"],
    "yangpu-model": ["推荐", "同意", "初审", "评审", "审定"],
}

# The deadlines table of programs.md, per program: (kind, detail).
DATES: dict[str, list[tuple[DateKind, Any]]] = {
    "dalian-worker": [
        (DateKind.YEARLY, (7, 31)),
        (DateKind.ONCE, dt.date(2016, 11, 10)),
        (DateKind.YEARLY, (12, 31)),
    ],
    "dalian-model": [
        (DateKind.YEARLY, (7, 31)),
        (DateKind.ONCE, dt.date(2011, 8, 31)),
        # 2011's own schedule (visits from mid-September, plaques before late December)
        # happens that year only: the seed dates it, the programs table says so.
        (DateKind.ONCE, dt.date(2011, 9, 15)),
        (DateKind.ONCE, dt.date(2011, 12, 20)),
        (DateKind.YEARLY, (12, 31)),
    ],
    "beijing-worker": [
        (DateKind.ONCE, dt.date(2011, 10, 10)),
        (DateKind.YEARLY, (1, 1)),
        (DateKind.YEARLY, (12, 31)),
        (DateKind.QUARTERLY, None),
    ],
    "cccc-model": [
        (DateKind.YEARLY, (5, 31)),
        (DateKind.WINDOW, (6, 1, 8, 31)),
    ],
    "yangpu-model": [
        (DateKind.YEARLY, (12, 31)),
        (DateKind.EVERY_YEARS, 3),
    ],
}

APPLICANT_UNIT_LABELS = {"申报单位（公章）", "申报单位"}

# Who acts at each level, from the seeds' chains: (level id, acts, joint).
# Acts are written as in the files: {"nearest": [...]}, {"body": ...}, {"org": ...}.
CHAINS: dict[str, list[tuple[str, dict[str, Any], list[dict[str, Any]]]]] = {
    "dalian-worker": [
        ("grassroots", {"nearest": ["grassroots"]}, []),
        ("district", {"nearest": ["district", "zone", "industry"]}, []),
        ("city", {"nearest": ["city"]}, []),
    ],
    "dalian-model": [
        ("unit", {"nearest": ["unit"]}, []),
        ("union", {"nearest": ["grassroots"]}, []),
        ("district", {"nearest": ["district", "industry", "zone"]}, []),
        ("city", {"nearest": ["city"]}, []),
    ],
    "beijing-worker": [
        ("unit", {"nearest": ["unit"]}, []),
        ("recommend", {"nearest": ["district", "industry"]}, []),
        ("city", {"nearest": ["city"]}, [{"org": "bj-kw"}]),
    ],
    "cccc-model": [
        ("unit_union", {"nearest": ["grassroots"]}, []),
        ("unit_tech", {"body": "技术部门"}, []),
        ("unit_party", {"body": "党委"}, []),
        ("cccc_union", {"nearest": ["federation"]}, []),
    ],
    "yangpu-model": [
        ("unit_union", {"nearest": ["grassroots"]}, []),
        ("unit_party", {"body": "党政"}, []),
        ("parent_union", {"nearest": ["industry", "zone"]}, []),
        ("panel", {"nearest": ["district"]}, []),
        ("chair_office", {"nearest": ["district"]}, []),
    ],
}

# The issuing union's code in the organisation files (review/examples/).
ISSUERS = {
    "dalian-worker": "dl",
    "dalian-model": "dl",
    "beijing-worker": "bj",
    "cccc-model": "cccc",
    "yangpu-model": "yp",
}

# (who names, how the plaque is handed over) in the seeds' words.
NAMING: dict[str, tuple[str, str | None]] = {
    "dalian-worker": ("市总工会常委会", "通报和挂牌"),
    "dalian-model": ("市总主席办公会或常委会", "集中命名授牌"),
    "beijing-worker": ("北京市总工会会同北京市科学技术委员会", "挂牌"),
    "cccc-model": ("中国交建工会联合会", None),
    "yangpu-model": ("区总工会主席办公会议", "适时挂牌命名"),
}

# The seeds that print no form: every opinion label there is worded from the text.
NO_FORM = {"beijing-worker", "yangpu-model"}


@pytest.fixture(scope="module")
def registry() -> dict[str, Program]:
    return {p.id: p for p in load_registry()}


def all_labels(program: Program) -> list[str]:
    out: list[str] = []
    for _, q in program.questions():
        out.append(q.label)
        out.extend(f.label for f in q.fields or [])
    return out


MATERIALS_AS_UPLOADS = {"cccc-model", "dalian-model", "beijing-worker"}
"""The programs whose required materials became upload questions (version 4)."""


def test_all_five_load_from_builtin_folder(registry: dict[str, Program]) -> None:
    assert set(registry) == set(EXPECTED_IDS)
    for pid, (seed, button) in EXPECTED_IDS.items():
        program = registry[pid]
        assert program.seed == seed
        assert program.button_title == button
        # 2: options got ids; 3: the applicant's organisation; 4: the materials as
        # uploads, the seeds' rules asked (领衔人类别, each year's results, further
        # leaders) and 配套资金 kept with its unit
        assert program.version == (4 if pid in MATERIALS_AS_UPLOADS else 3)
        assert (BUILTIN_DIR / f"{pid}.yaml").is_file()


def test_date_style(registry: dict[str, Program]) -> None:
    assert registry["cccc-model"].date_style == "compact"
    for pid in EXPECTED_IDS.keys() - {"cccc-model"}:
        assert registry[pid].date_style == "iso"


@pytest.mark.parametrize("pid", sorted(FORM_LABELS))
def test_form_labels_are_asked(registry: dict[str, Program], pid: str) -> None:
    labels = [q.label for _, q in registry[pid].questions()]
    missing = [
        want
        for want in FORM_LABELS[pid]
        if not any(label == want or want in label for label in labels)
    ]
    assert missing == []


@pytest.mark.parametrize("pid", sorted(GROUP_COLUMNS))
def test_group_columns(registry: dict[str, Program], pid: str) -> None:
    groups = {q.label: q for _, q in registry[pid].questions() if q.type == QType.GROUP}
    for group_label, columns in GROUP_COLUMNS[pid].items():
        assert group_label in groups, group_label
        group = groups[group_label]
        labels = [f.label for f in group.fields or []]
        assert [c for c in columns if c not in labels] == []
        # At least a row (a required table); more only where a seed sets a minimum.
        assert group.required or group.min_rows
        assert group.max_rows is not None


@pytest.mark.parametrize("pid", sorted(OPINION_LABELS))
def test_opinion_boxes_in_review_chain(registry: dict[str, Program], pid: str) -> None:
    chain = registry[pid].review_chain
    if OPINION_LABELS[pid]:
        assert [r.opinion_label for r in chain] == OPINION_LABELS[pid]
    if pid in REVIEW_ACTIONS:
        assert [r.action for r in chain] == REVIEW_ACTIONS[pid]
    for level in chain:
        assert level.cite


def test_cccc_opinions_are_signed(registry: dict[str, Program]) -> None:
    chain = registry["cccc-model"].review_chain
    assert [r.signature for r in chain] == [True, True, True, False]
    assert all(r.stamp for r in chain)


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_no_question_is_an_opinion_box(registry: dict[str, Program], pid: str) -> None:
    for label in all_labels(registry[pid]):
        if label in APPLICANT_UNIT_LABELS:
            continue
        assert "意见" not in label, label
        assert "盖章" not in label, label
        assert "公章" not in label, label
        assert "负责人签名" not in label, label


def test_reviewer_filled_fields_are_not_asked(registry: dict[str, Program]) -> None:
    assert "审定的工作室名称" not in all_labels(registry["dalian-model"])


@pytest.mark.parametrize("pid", sorted(DATES))
def test_dates_from_programs_table(registry: dict[str, Program], pid: str) -> None:
    have: list[tuple[DateKind, Any]] = []
    for d in registry[pid].dates:
        if d.kind is DateKind.YEARLY:
            have.append((d.kind, (d.month, d.day)))
        elif d.kind is DateKind.ONCE:
            have.append((d.kind, d.date))
        elif d.kind is DateKind.WINDOW:
            have.append((d.kind, (d.month, d.day, d.end_month, d.end_day)))
        elif d.kind is DateKind.QUARTERLY:
            have.append((d.kind, None))
        else:
            have.append((d.kind, d.years))
    assert [want for want in DATES[pid] if want not in have] == []


# Work carried out around its date (not due on it), and duties of named studios only.
CARRIED_OUT = {
    "dalian-worker": {"year_end_check"},
    "beijing-worker": {"yearly_plan"},
    "yangpu-model": {"yearly_declaration", "support_application"},
}


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_seasons_and_named_only_duties(registry: dict[str, Program], pid: str) -> None:
    dates = {d.id: d for d in registry[pid].dates}
    assert {i for i, d in dates.items() if d.carried_out} == CARRIED_OUT.get(pid, set())
    only_named = {i for i, d in dates.items() if d.only == "named"}
    assert only_named == ({"quarterly_summary"} if pid == "beijing-worker" else set())
    for d in dates.values():
        assert (d.after == "named") == (d.kind is DateKind.EVERY_YEARS)


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_every_question_has_help(registry: dict[str, Program], pid: str) -> None:
    for _, q in registry[pid].questions():
        assert q.help, q.id
        assert "「" in q.help, q.id
        assert len(q.help) <= 200, q.id


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_question_ids_are_short(registry: dict[str, Program], pid: str) -> None:
    for _, q in registry[pid].questions():
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,23}", q.id), q.id


def test_special_question_types(registry: dict[str, Program]) -> None:
    cccc = registry["cccc-model"]
    assert cccc.question("summary").min_chars == 1000
    benefit = cccc.question("benefit")
    total = next(f for f in benefit.fields or [] if f.label == "合计")
    assert total.type == QType.SUM
    assert total.of == ["income", "savings"]
    assert cccc.question("area").unit == "平方米"
    assert cccc.question("member_count").unit == "人"
    assert {o.label for o in cccc.question("studio_type").options or []} == {
        "技术攻关",
        "技能传授",
        "窗口服务",
        "其他",
    }
    for pid in ("dalian-model", "beijing-worker"):
        photos = registry[pid].question("photos")
        assert (photos.type, photos.min_files, photos.max_files) == (QType.PHOTO, 3, 5)
    blue = registry["beijing-worker"].question("leader_photo")
    assert (blue.type, blue.min_files, blue.max_files) == (QType.PHOTO, 1, 1)
    assert registry["dalian-model"].question("remarks").required is False


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_today_suggested_for_declaration_dates(registry: dict[str, Program], pid: str) -> None:
    for _, q in registry[pid].questions():
        if q.label in ("申报日期", "填报日期"):
            assert q.suggest == ["{today}"]


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS.keys() - {"dalian-model"}))
def test_studio_name_pattern_accepts_its_example(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]
    spec = program.studio_name
    assert spec is not None
    assert program.question(spec.field).type == QType.TEXT
    pattern = re.sub(r"\{[a-z][a-z0-9_]*\}", ".+", spec.pattern)
    assert re.search(pattern, spec.example)


def test_checks_of_the_brief(registry: dict[str, Program]) -> None:
    fields = {pid: {f for c in registry[pid].checks for f in c.when.fields()} for pid in registry}
    assert {"has_venue", "studio_name", "leader_name"} <= fields["dalian-worker"]
    assert {"member_count", "area"} <= fields["cccc-model"]
    assert {"members", "studio_name"} <= fields["yangpu-model"]
    assert "team_size" in fields["beijing-worker"]
    assert "honour" in fields["dalian-model"]
    team = next(c for c in registry["yangpu-model"].checks if "members" in c.when.fields())
    assert team.when.rows_lt == 3


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed documents not available")
@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_cites_are_verbatim(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]

    def norm(text: str) -> str:
        return re.sub(r"\s+", "", text)

    seed = norm((SEEDS_DIR / program.seed).read_text(encoding="utf-8"))
    cites = [c.cite for c in program.checks]
    cites += [r.cite for r in program.review_chain if r.cite]
    cites += [d.cite for d in program.dates]
    cites += [t.cite for t in program.totals]
    if program.naming is not None:
        cites.append(program.naming.cite)
        cites += [w for w in (program.naming.by, program.naming.plaque) if w]
    if program.studio_name is not None:
        cites.append(program.studio_name.cite)
    assert [c for c in cites if norm(c) not in seed] == []
    for _, q in program.questions():
        for quoted in re.findall(r"「([^」]*)」", q.help or ""):
            for part in quoted.split("……"):
                assert norm(part) in seed, (q.id, part)


# --- the applicant's organisation and who acts ------------------------------


def acts_as_written(acts: Acts) -> dict[str, Any]:
    return acts.model_dump(exclude_none=True)


@pytest.mark.parametrize("pid", sorted(CHAINS))
def test_who_acts_at_each_level(registry: dict[str, Program], pid: str) -> None:
    chain = registry[pid].review_chain
    have = [
        (
            level.id,
            acts_as_written(level.acts) if level.acts else None,
            [acts_as_written(j) for j in level.joint],
        )
        for level in chain
    ]
    assert have == CHAINS[pid]


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_issuer_and_applicant_org(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]
    assert program.issuer == ISSUERS[pid]
    assert program.applicant_org is not None
    q = program.question(program.applicant_org)
    assert q.type == QType.ORG
    assert q.kinds
    assert set(q.kinds) <= {"unit", "grassroots"}
    # A level acting for the unit, or for a body of it, needs the applicant to be
    # a unit: walking up from a grassroots union meets no unit.
    if any(
        level.acts and (level.acts.body or level.acts.nearest == ["unit"])
        for level in program.review_chain
    ):
        assert q.kinds == ["unit"]
    # Asked first thing, under its printed label.
    assert program.section_of(q.id) is program.sections[0]
    assert q.label in APPLICANT_UNIT_LABELS | {"所在单位"}
    assert q.help
    assert "「" in q.help


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_only_the_applicant_org_is_an_org_question(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]
    orgs = [q.id for _, q in program.questions() if q.type == QType.ORG]
    assert orgs == [program.applicant_org]
    for _, q in program.questions():
        for column in q.fields or []:
            assert column.type != QType.ORG, (q.id, column.id)
            if column.label == "所在单位":
                assert column.type == QType.TEXT


def test_no_suggestion_reads_the_applicant_org(registry: dict[str, Program]) -> None:
    # An org answer is {code, name}: a "{unit}" slot would print the mapping.
    for program in registry.values():
        for _, q in program.questions():
            for template in q.suggest or []:
                assert "{" + (program.applicant_org or "") + "}" not in template, q.id


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_levels_printed_or_worded(registry: dict[str, Program], pid: str) -> None:
    chain = registry[pid].review_chain
    printed = [level.label_printed for level in chain]
    assert printed == [pid not in NO_FORM] * len(chain)


def test_beijing_city_union_decides_with_the_science_commission(
    registry: dict[str, Program],
) -> None:
    chain = registry["beijing-worker"].review_chain
    unit, _, city = chain
    assert (unit.reviewer, unit.opinion_label) == ("所在单位", "所在单位推荐意见")
    assert unit.cite is not None
    assert unit.cite.startswith("所在单位的推荐材料")
    assert city.reviewer == "市总工会经济技术部（劳动保护部）"
    assert [j.org for j in city.joint] == ["bj-kw"]
    assert not any(level.panel for level in chain)
    assert [level.joint for level in chain[:2]] == [[], []]


def test_yangpu_panel_then_chair_office(registry: dict[str, Program]) -> None:
    chain = registry["yangpu-model"].review_chain
    assert [level.panel for level in chain] == [False, False, False, True, False]
    assert [level.reviewer for level in chain[3:]] == ["区总工会评审小组", "区总工会主席办公会议"]
    assert all(level.joint == [] for level in chain)


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_naming(registry: dict[str, Program], pid: str) -> None:
    naming = registry[pid].naming
    assert naming is not None
    assert (naming.by, naming.plaque) == NAMING[pid]
    assert naming.by in naming.cite or pid == "beijing-worker"


def test_dalian_model_naming_decided_by_the_chair_office_or_standing_committee(
    registry: dict[str, Program],
) -> None:
    naming = registry["dalian-model"].naming
    assert naming is not None
    assert naming.cite == "经市总主席办公会或常委会讨论通过后，确定认定名单"
    # 审定的工作室名称 is the final level's to fill, never the applicant's.
    assert registry["dalian-model"].review_chain[-1].reviewer == "市总工会经济技术和劳动保护部"


# --- broken definitions -----------------------------------------------------


def minimal(pid: str = "broken") -> dict[str, Any]:
    return {
        "id": pid,
        "version": 1,
        "seed": "000_test.txt",
        "union": "测试工会",
        "kind": "创新工作室",
        "form_title": "申报表",
        "notice": "通知",
        "issuer": "test",
        "sections": [
            {
                "id": "main",
                "title": "基本情况",
                "questions": [
                    {"id": "leader_name", "label": "姓名", "type": "text", "help": "「姓名」"},
                    {"id": "has_venue", "label": "场所", "type": "yesno", "help": "「场所」"},
                ],
            }
        ],
        "review_chain": [
            {"id": "union", "reviewer": "工会", "opinion_label": "工会意见", "action": "推荐"}
        ],
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = "broken") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(DefinitionError) as info:
        load_program(path)
    return str(info.value)


def test_minimal_definition_loads(tmp_path: Path) -> None:
    assert load_program(write(tmp_path, minimal())).id == "broken"


def test_duplicate_question_id(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][1]["id"] = "leader_name"
    path = write(tmp_path, data)
    message = refused(path)
    assert f"{path}: sections: [E061]" in message
    assert "leader_name" in message


def test_unknown_question_type(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][1]["type"] = "checkbox"
    path = write(tmp_path, data)
    message = refused(path)
    assert str(path) in message
    assert "sections[0].questions[1].type" in message
    assert "[E010]" in message
    assert "checkbox" in message


def test_condition_on_later_question(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][0]["when"] = {"field": "has_venue", "eq": True}
    path = write(tmp_path, data)
    message = refused(path)
    assert f"{path}: sections[0].questions[0].when: [E050]" in message
    assert "has_venue" in message


def test_condition_on_unknown_field(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][1]["when"] = {"field": "venue_size", "gt": 0}
    path = write(tmp_path, data)
    message = refused(path)
    assert f"{path}: sections[0].questions[1].when: [E050]" in message
    assert "venue_size" in message


def test_unknown_condition_operator(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][1]["when"] = {"field": "leader_name", "equals": "x"}
    path = write(tmp_path, data)
    message = refused(path)
    assert str(path) in message
    assert "sections[0].questions[1].when.equals" in message
    assert "[E121]" in message
    assert "eq, ne" in message  # the operators are listed


def test_choice_without_options(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"].append(
        {"id": "gender", "label": "性别", "type": "choice", "help": "「性别」"}
    )
    path = write(tmp_path, data)
    message = refused(path)
    assert f"{path}: sections[0].questions[2].options: [E036]" in message


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, minimal("other-id"), name="broken")
    message = refused(path)
    assert f"{path}: id: [E020]" in message


def with_org(data: dict[str, Any]) -> dict[str, Any]:
    org = {"id": "unit", "label": "申报单位", "type": "org", "kinds": ["unit"], "help": "「单位」"}
    data["sections"][0]["questions"].insert(0, org)
    data["applicant_org"] = "unit"
    data["review_chain"][0]["acts"] = {"nearest": ["grassroots"]}
    return data


def test_definition_with_an_org_question_loads(tmp_path: Path) -> None:
    program = load_program(write(tmp_path, with_org(minimal())))
    assert program.applicant_org == "unit"
    assert program.review_chain[0].acts == Acts(nearest=["grassroots"])


def test_applicant_org_must_be_an_org_question(tmp_path: Path) -> None:
    data = with_org(minimal())
    data["applicant_org"] = "leader_name"
    path = write(tmp_path, data)
    assert f"{path}: applicant_org: [E067]" in refused(path)


def test_relative_acts_need_the_applicant_org(tmp_path: Path) -> None:
    data = with_org(minimal())
    del data["applicant_org"]
    path = write(tmp_path, data)
    assert f"{path}: review_chain[0].acts: [E069]" in refused(path)


def test_level_naming_nobody(tmp_path: Path) -> None:
    data = with_org(minimal())
    del data["review_chain"][0]["acts"]
    assert load_program(write(tmp_path, data)).issuer == "test"  # the issuer acts
    del data["issuer"]
    path = write(tmp_path, data)
    assert f"{path}: review_chain[0].acts: [E068]" in refused(path)


def test_acts_names_exactly_one(tmp_path: Path) -> None:
    data = with_org(minimal())
    data["review_chain"][0]["acts"] = {"nearest": ["grassroots"], "org": "dl"}
    path = write(tmp_path, data)
    message = refused(path)
    assert "review_chain[0].acts" in message
    assert "[E010]" in message


def test_org_question_cannot_be_a_column(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"].append(
        {
            "id": "members",
            "label": "成员",
            "type": "group",
            "help": "「成员」",
            "fields": [{"id": "unit", "label": "所在单位", "type": "org", "kinds": ["unit"]}],
        }
    )
    path = write(tmp_path, data)
    assert "[E045]" in refused(path)


def test_org_question_names_its_kinds(tmp_path: Path) -> None:
    data = with_org(minimal())
    del data["sections"][0]["questions"][0]["kinds"]
    path = write(tmp_path, data)
    assert f"{path}: sections[0].questions[0].kinds: [E046]" in refused(path)


def test_a_broken_file_is_left_out_and_the_others_serve(tmp_path: Path) -> None:
    data = minimal()
    data["sections"][0]["questions"][1]["type"] = "checkbox"
    path = write(tmp_path, data)
    registry = load_registry(BUILTIN_DIR, tmp_path)
    assert len(registry) == len(load_registry())
    [broken] = registry.broken
    assert broken.file == str(path)
    assert broken.first.code == "E010"
    assert not load_registry().broken


def test_a_second_file_with_a_known_id_is_left_out(tmp_path: Path) -> None:
    source = (BUILTIN_DIR / "dalian-worker.yaml").read_text(encoding="utf-8")
    (tmp_path / "dalian-worker.yaml").write_text(source, encoding="utf-8")
    registry = load_registry(BUILTIN_DIR, tmp_path)
    [broken] = registry.broken
    assert broken.first.code == "E066"
    assert registry.get("dalian-worker") is not None
