"""What each seed requires, found in its definition: a table per program of the
materials the seed asks for and the rules it sets, each with its clause, and the
test finds the clause in the seed word for word, the material asked (as an upload
where it is a file), the rule checked (blocking where the seed forbids, warning
where it advises).  A definition edited away from its seed fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialogs.loader import load_registry
from dialogs.schema import Program, QType

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
REGISTRY = load_registry()


@dataclass(frozen=True)
class Asked:
    """A material or fact the seed requires: the question that asks it."""

    question: str
    clause: str
    upload: bool = False


@dataclass(frozen=True)
class Checked:
    """A rule the seed sets: the check that applies it, blocking or warning."""

    check: str
    clause: str
    blocks: bool


Required = Asked | Checked

SEED_TABLE: dict[str, list[Required]] = {
    "dalian-worker": [
        Asked("studio_name", "确定申报名称"),
        Asked("members", "团队成员基本情况"),
        Asked("duties", "岗位工作职责"),
        Asked("results", "团队创新成果"),
        Checked("post_not_studio", "否则，可申报命名为职工创新工作岗", blocks=True),
        Checked("name_format", "格式为“×××创新工作室”或“×××创新工作岗”", blocks=True),
    ],
    "dalian-model": [
        Asked("achievements", "主要工作成绩和成果"),
        Asked("equipment", "工作设备清单"),
        Asked("members", "工作室参与人员情况"),
        Asked("plan", "主要工作计划和工作目标"),
        Asked("co_leaders", "有一名或几名"),
        Asked("photos", "照片", upload=True),
        Checked("no_model_worker", "知名劳模作为核心", blocks=False),
        Checked("no_venue", "有开展创新活动的基本活动场所和设备设施", blocks=False),
        Checked("no_funds", "有一定的活动经费", blocks=False),
    ],
    "beijing-worker": [
        Checked("team_too_small", "人数应在30人左右", blocks=False),
        Checked("team_too_large", "不宜超过150人", blocks=False),
        Checked("no_funds", "有一定的工作经费", blocks=False),
    ],
    "cccc-model": [
        Asked("summary", "创新工作室业绩简介"),
        Asked("naming_unit", "命名单位"),
        Asked("funding", "经费投入"),
        Asked("benefit", "经济效益"),
        Asked("core_members", "工作室骨干成员情况"),
        Checked("leader_not_eligible", "必须有1名劳动模范、五一劳动奖章获得者", blocks=True),
        Checked("team_too_small", "有一支3人以上的职工技术创新团队", blocks=True),
        Checked("venue_too_small", "一般不少于20平方米", blocks=False),
        Checked("no_project_prev1", "每年至少有一项创新课题或攻关项目立项", blocks=True),
        Checked("no_project_prev2", "每年至少有一项创新课题或攻关项目立项", blocks=True),
        Checked("no_results_prev1", "每年至少有1项创新成果", blocks=True),
        Checked("no_results_prev2", "每年至少有1项创新成果", blocks=True),
    ],
    "yangpu-model": [
        Asked("named_before", "往年已命名的工作室不再重复申报"),
        Asked("innovation", "科技创新、技能创新、管理创新、服务创新和机制创新"),
        Checked("already_named", "往年已命名的工作室不再重复申报", blocks=True),
        Checked("team_too_small", "除带头人外，有至少3名相关成员组成的团队", blocks=True),
        Checked("name_format", "等要素构成", blocks=True),
        Checked("leader_retired", "带头人原则上应为在职", blocks=False),
        Checked("no_results", "每两年至少有1项", blocks=False),
    ],
}


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def seed_text(program: Program) -> str:
    return _flat((SEEDS / program.seed).read_text(encoding="utf-8"))


def _cases() -> list[tuple[str, Required]]:
    return [(pid, item) for pid, items in SEED_TABLE.items() for item in items]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not beside the project")
@pytest.mark.parametrize(("program_id", "item"), _cases(), ids=lambda v: getattr(v, "clause", v))
def test_the_seed_s_requirement_is_asked_or_checked(program_id: str, item: Required) -> None:
    program = REGISTRY.get(program_id)
    assert program is not None
    assert _flat(item.clause) in seed_text(program), "the clause is not the seed's"
    if isinstance(item, Asked):
        question = program.question(item.question)
        if item.upload:
            assert question.type in (QType.PHOTO, QType.FILE), item.question
        return
    check = next((c for c in program.checks if c.id == item.check), None)
    assert check is not None, item.check
    assert _flat(item.clause) in _flat(check.cite), "the check cites another clause"
    assert check.blocks is item.blocks


def test_every_program_has_its_table() -> None:
    assert set(SEED_TABLE) == {p.id for p in REGISTRY}
