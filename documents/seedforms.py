"""The Word templates of the seeds' printed forms, drawn as the seeds print them:
Dalian's 《职工创新工作室（岗）申报表》 and 《劳模创新工作室申报表》, and CCCC's
《中国交建劳模（工匠人才）创新工作室申报审批表》 with its cover and 填表说明.

Each template is an ordinary .docx beside its definition (a union edits it in
Word); this module draws them again when a definition's fields change:

    .venv/bin/python -m documents.seedforms        # writes dialogs/programs/<id>.docx

The labels are the seeds' words; the answers are docxtpl tags (see
``documents.word``), so ``studiobot programs check`` finds a tag naming a field
the definition no longer has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell

from dialogs.loader import BUILTIN_DIR

Cell = tuple[str, int]
"""A cell's text (tags allowed) and how many grid columns it spans."""


class Form:
    """A template being drawn: a title, lines, and one grid table of ``cols`` columns
    whose rows are cells spanning columns (the seeds' forms are such grids)."""

    def __init__(self, font: str, size: float, widths: Sequence[float]) -> None:
        self.doc: Any = Document()
        self.widths = list(widths)
        style = self.doc.styles["Normal"]
        style.font.name = "Times New Roman"
        style.font.size = Pt(size)
        style.element.rPr.rFonts.set(qn("w:eastAsia"), font)
        for section in self.doc.sections:
            section.page_width, section.page_height = Cm(21), Cm(29.7)
            section.left_margin = section.right_margin = Cm(2.2)
            section.top_margin = section.bottom_margin = Cm(2.2)
        self.table: Table | None = None

    def line(
        self, text: str, *, size: float | None = None, bold: bool = False, center: bool = False
    ) -> None:
        para = self.doc.add_paragraph()
        if center:
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = para.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)

    def page_break(self) -> None:
        self.doc.add_section(WD_SECTION.NEW_PAGE)
        self.table = None

    def grid(self) -> Table:
        if self.table is None:
            self.table = self.doc.add_table(rows=0, cols=len(self.widths))
            self.table.style = "Table Grid"
            self.table.alignment = WD_TABLE_ALIGNMENT.CENTER
            self.table.autofit = False
            grid = self.table._tbl.tblGrid  # python-docx has no public setter of the grid
            for col, width in zip(grid.gridCol_lst, self.widths, strict=True):
                col.w = Cm(width)
        return self.table

    def row(self, *cells: Cell, bold_labels: bool = True) -> list[_Cell]:
        """One row of the grid; a cell whose text ends in ``:`` or is a label (the
        first, and every other in a label/value row) is bold."""
        table = self.grid()
        tr = table.add_row()  # type: ignore[no-untyped-call]
        out: list[_Cell] = []
        at = 0
        for n, (text, span) in enumerate(cells):
            cell = tr.cells[at]
            if span > 1:
                cell = cell.merge(tr.cells[at + span - 1])
            cell.width = Cm(sum(self.widths[at : at + span]))
            _put(cell, text, bold=bold_labels and n % 2 == 0 and "{" not in text)
            out.append(cell)
            at += span
        return out

    def loop_rows(self, table: str, columns: Sequence[tuple[str, int]]) -> None:
        """A row per entry of ``t.<table>``: docxtpl's ``{%tr %}`` rows around one row
        of cells ``{{ r.<column> }}`` (a column "" is a blank cell under a label)."""
        width = len(self.widths)
        self.row((f"{{%tr for r in t.{table} %}}", width), bold_labels=False)
        cells = ((f"{{{{ r.{col} }}}}" if col else "", span) for col, span in columns)
        self.row(*cells, bold_labels=False)
        self.row(("{%tr endfor %}", width), bold_labels=False)

    def rows_of(self, table: str, columns: Sequence[tuple[str, str, int]]) -> None:
        """A repeating table: its header of printed labels, then a row per entry;
        ``columns`` are (label, column id or "" for a blank cell, span)."""
        self.row(*((label, span) for label, _, span in columns), bold_labels=False)
        self.loop_rows(table, [(col, span) for _, col, span in columns])

    def box(self, label: str, level: str, width: int, *, stamp: str, signed: bool = False) -> None:
        """A level's opinion box: its opinion, then signer, stamp and date on the right."""
        lines = [f"{{{{ box.{level}.text }}}}", ""]
        if signed:
            lines.append(f"负责人签名：{{{{ box.{level}.signer }}}}")
        lines += [stamp, f"{{{{ box.{level}.date }}}}"]
        label_cell, body = self.row((label, 1), ("\n".join(lines), width - 1))
        del label_cell
        for para in body.paragraphs[2:]:
            para.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def save(self, path: Path) -> None:
        self.doc.save(str(path))


def _put(cell: _Cell, text: str, *, bold: bool) -> None:
    lines = text.split("\n")
    cell.paragraphs[0].text = ""
    cell.paragraphs[0].add_run(lines[0]).bold = bold
    for line in lines[1:]:
        cell.add_paragraph().add_run(line).bold = bold


def a(qid: str) -> str:
    return f"{{{{ a.{qid} }}}}"


def photos(form: Form, qid: str, title: str) -> None:
    """The photos after the form, on a page of their own (the seeds ask for them
    beside the form, not in it)."""
    form.page_break()
    form.line(title, bold=True, center=True, size=14)
    form.line(f"{{% for img in p.{qid} %}}{{{{ img }}}}{{% endfor %}}")


PEOPLE = [
    ("姓名", "name", 1),
    ("性别", "gender", 1),
    ("出生年月", "birth", 1),
    ("学历", "education", 1),
    ("职称/技术等级", "title", 1),
]
"""The first columns of the team tables of Dalian 001 (and the first four of CCCC's)."""


def dalian_worker() -> Form:
    """大连市总工会《职工创新工作室（岗）申报表》 (seed 000)."""
    form = Form("宋体", 12, [3.2, 2.2, 1.6, 2.4, 2.6, 2.2, 2.4])
    form.line("职工创新工作室（岗）申报表", size=18, bold=True, center=True)
    form.line(f"申报单位（公章）：{a('unit')}          申报日期：{a('declare_date')}")
    form.row(("申报名称", 1), (a("studio_name"), 6))
    form.row(("团队成员基本情况", 7))
    form.rows_of(
        "members",
        [
            ("姓  名", "name", 2),
            ("性别", "gender", 1),
            ("出生年月", "birth", 1),
            ("学历", "education", 1),
            ("职级", "rank", 1),
            ("工种", "trade", 1),
        ],
    )
    form.row(("岗位工作职责", 1), (a("duties"), 6))
    form.row(("团队创新成果", 1), (a("results"), 6))
    form.box("基层工会推荐意见", "grassroots", 7, stamp="（盖   章）")
    form.box("县市区、\n产业工会审核意见", "district", 7, stamp="（盖  章）")
    form.box("市总工会命名审批意见", "city", 7, stamp="（盖  章）")
    form.line("注：1.此表一式三份，各栏内容应填报详实，填写不下可另页。")
    form.line(
        "2.“申报名称”由基层工会根据创建条件和实际情况拟定后填写，"
        "格式为“×××创新工作室”或“×××创新工作岗”。"
    )
    return form


def dalian_model() -> Form:
    """大连市总工会《劳模创新工作室申报表》 (seed 001)."""
    form = Form("宋体", 12, [3.0, 2.0, 1.6, 2.2, 2.2, 2.6, 3.0])
    form.line("劳模创新工作室申报表", size=18, bold=True, center=True)
    form.line(f"申报单位：{a('unit')}（盖章）    申报日期：{a('declare_date')}")
    form.row(("工作室负责人情况：", 7))
    form.row(
        ("姓名", 1),
        (a("leader_name"), 2),
        ("性别", 1),
        (a("gender"), 1),
        ("出生年月", 1),
        (a("birth"), 1),
    )
    form.row(("学历", 1), (a("education"), 2), ("职称/技术等级", 1), (a("title"), 3))
    form.row(("劳模最高荣誉", 1), (a("honour"), 2), ("所在单位", 1), (a("leader_unit"), 3))
    form.row(("主要工作成绩和成果", 1), (a("achievements"), 6))
    form.row(
        ("工作地点", 1),
        (a("location"), 2),
        ("面积", 1),
        (a("area"), 1),
        ("配套资金", 1),
        (a("funds_amount"), 1),
    )
    form.row(("工作设备清单", 1), (a("equipment"), 6))
    form.row(("工作室参与人员情况：", 7))
    form.rows_of("members", [*PEOPLE, ("所在单位", "unit", 1), ("主要分工", "role", 1)])
    form.row(("主要工作计划和工作目标", 1), (a("plan"), 6))
    form.box("申报单位意见", "unit", 7, stamp="（盖印）")
    form.box("申报工会意见", "union", 7, stamp="（盖印）")
    form.box("区市县\n、\n产业工会意见", "district", 7, stamp="（盖印）")
    form.box("市总工会审核意见", "city", 7, stamp="（盖印）")
    form.row(("审定的工作室名称", 1), ("{{ box.city.approved_name }}", 6))
    form.row(("备  注", 1), ("", 6))
    form.line(
        "注：本表一式三份，基层工会留存一份，区市县、产业工会一份，市总工会备案一份。请单页双面打印。"
    )
    photos(form, "photos", "反映该工作室成员近年来的工作内容和成绩的照片")
    return form


CCCC_NOTES = [
    "1.“创新工作室名称”应完整填写创新工作室的名称。",
    "2.“创建日期”以团队模式规范开展工作或被命名的时间。",
    "3.“经费主要来源”投入单位两个以上，需分别注明投入经费额。",
    "4.表中“经费投入、技术创新、经济效益、培养人才、社会效益”均填写近两年情况。",
    "5.表中“*”表示均须提供相关证明复印件，经济效益须加盖单位财务章的原件。",
    "6.“培养人才”需列表详细说明（如:人员名单、何时晋升为何种等级、何时获何种荣誉称号等）。",
    "7.如有其它需要特别说明的内容，可以补充相应的书面证明材料。",
    "8.本表用打印方式填写，使用仿宋小四号字，日期、年月统一使用“20180420”的规范格式填写，"
    "数字统一使用阿拉伯数字。",
    "9.签署意见栏必须填写明确意见，并签名、盖章。",
    "10.请勿改变字体大小，格式及页面设置。",
    "11.此表填写一式两份，请双面打印，与工作室规章制度、工作业绩和创新成果证明材料等一并装订成册。",
]


def _cccc_cover(form: Form) -> None:
    form.line("")
    form.line("中国交建劳模（工匠人才）创新工作室", size=22, bold=True, center=True)
    form.line("申报审批表", size=22, bold=True, center=True)
    form.line("")
    for label, qid in (
        ("工作室名称", "studio_name"),
        ("所在单位", "unit"),
        ("单位类型", "unit_type"),
        ("推荐单位", "recommender"),
        ("填报日期", "fill_date"),
    ):
        form.line(f"{label}  {a(qid)}", size=15)
    form.line("")
    form.line("中国交建工会联合会办公室制", size=15, center=True)
    form.page_break()
    form.line("填 表 说 明", size=15, bold=True, center=True)
    for note in CCCC_NOTES:
        form.line(note)
    form.page_break()


def _cccc_results(form: Form) -> None:
    form.row(
        ("技术创新*", 1),
        ("创新成果", 1),
        (a("innov_results"), 1),
        ("专利类别", 1),
        ("实用新型", 1),
        (a("patent_utility"), 2),
    )
    form.row(
        ("", 1),
        ("成果转化", 1),
        (a("innov_applied"), 1),
        ("", 1),
        ("发明", 1),
        (a("patent_invention"), 2),
    )
    form.row(
        ("", 1),
        ("获奖等级", 1),
        (
            f"国际 {a('award_intl')}  国家 {a('award_national')}  "
            f"省部 {a('award_province')}  地市 {a('award_city')}",
            5,
        ),
    )
    form.rows_of(
        "benefit",
        [
            ("经济效益*\n(万元)", "", 1),
            ("年   度", "year", 2),
            ("创收金额", "income", 1),
            ("节资金额", "savings", 1),
            ("合计", "total", 2),
        ],
    )
    form.row(("培养\n人才*", 1), ("总数", 1), (a("talent_total"), 5))
    form.row(
        ("技 术 等 级", 2),
        (
            f"双重职称 {a('grade_dual')}  高级技师 {a('grade_senior_tech')}  "
            f"技师 {a('grade_tech')}  高级工 {a('grade_senior_worker')}  "
            f"其他 {a('grade_other')}",
            5,
        ),
    )
    form.row(
        ("荣  誉", 2),
        (
            f"全国劳模 {a('honour_national')}  省部级劳模 {a('honour_province')}  "
            f"地市级劳模 {a('honour_city')}  企业劳模 {a('honour_company')}",
            5,
        ),
    )
    form.row(("培养人才详细说明", 2), (a("talent_list"), 5))
    form.row(("社会效益", 1), (a("social"), 6))


def cccc_model() -> Form:
    """中国交建《劳模（工匠人才）创新工作室申报审批表》 (seed 003, 附件1)."""
    form = Form("仿宋", 12, [2.4, 2.0, 2.4, 2.2, 2.2, 2.2, 3.2])
    _cccc_cover(form)
    form.row(("工作室名称", 1), (a("studio_name"), 3), ("创建日期", 1), (a("founded"), 2))
    form.row(("所在单位", 1), (a("unit"), 3), ("命名单位*", 1), (a("naming_unit"), 2))
    form.row(("专业领域", 1), (a("field"), 3), ("命名日期", 1), (a("naming_date"), 2))
    form.row(
        ("工作室类型", 1),
        (a("studio_type"), 3),
        ("成员总数/场所面积", 1),
        (f"{a('member_count')} / {a('area')}", 2),
    )
    form.rows_of(
        "funding",
        [
            ("经费投入\n(万元)", "", 1),
            ("年  度", "year", 2),
            ("投入金额", "amount", 2),
            ("经费来源", "source", 2),
        ],
    )
    _cccc_results(form)
    form.row(("工作室领衔人情况", 7))
    form.row(
        ("姓名", 1),
        (a("leader_name"), 1),
        ("性别", 1),
        (a("gender"), 1),
        ("出生年月", 1),
        (a("birth"), 2),
    )
    form.row(
        ("学历", 1),
        (a("education"), 1),
        ("民族", 1),
        (a("ethnicity"), 1),
        ("政治面貌", 1),
        (a("politics"), 2),
    )
    form.row(
        ("专业/工种", 1),
        (a("specialty"), 1),
        ("技术职称", 1),
        (a("tech_title"), 1),
        ("联系电话", 1),
        (a("phone"), 2),
    )
    form.row(("获奖年份及荣誉称号*", 1), (a("honours"), 6))
    form.row(("工作室骨干成员情况（可附表）", 7))
    tail = [("技术职称", "tech_title", 1), ("所在部门", "department", 1), ("主要分工", "role", 1)]
    form.rows_of("core_members", PEOPLE[:4] + tail)
    form.row(("创新工作室业绩简介\n（不少于1000字）", 1), (a("summary"), 6))
    form.box("工会意见", "unit_union", 7, stamp="所在单位\n公章", signed=True)
    form.box("意见", "unit_tech", 7, stamp="所在单位技术部门\n公章", signed=True)
    form.box("党委意见", "unit_party", 7, stamp="所在单位\n公章", signed=True)
    form.box("审批意见", "cccc_union", 7, stamp="中国交建工会联合会\n公章")
    return form


TEMPLATES: dict[str, Callable[[], Form]] = {
    "dalian-worker": dalian_worker,
    "dalian-model": dalian_model,
    "cccc-model": cccc_model,
}


def main() -> None:
    for program_id, draw in TEMPLATES.items():
        path = BUILTIN_DIR / f"{program_id}.docx"
        draw().save(path)
        print(path)


if __name__ == "__main__":
    main()
