"""The printable 一表一书 of a 容缺 case: page 1 容缺快办审核表, page 2 诚信背书单, A4, in Chinese.

The township endorses the deferral with its service seal (domain-notes §2.1), so both sheets
carry a box for the seal and lines for hand signatures; both are reclaimed (收回) when the
missing materials arrive. The applicant appears masked the way staff screens mask them; the
full ID number and the phone never enter the document."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepInFrame, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.models import Case
from erma.catalog.service import get_item
from erma.clock import today_local
from erma.cjk_font import cjk_font_name
from erma.deferral.models import Deferral
from erma.permissions import Role
from erma.places.models import Town
from erma.staff.models import Staff

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
LABEL_W = 26 * mm
SEAL = 40 * mm  # the seal box: room for a 42 mm round township seal pressed over its corner
BLANK = "＿＿＿＿＿＿"
BLANK_DATE = "＿＿＿＿年＿＿月＿＿日"


@dataclass(frozen=True)
class FormFacts:
    """What both sheets state about the case, already masked."""

    form_no: str
    pledge_no: str
    case_no: str
    item_code: str
    item_name: str
    applicant_masked: str
    id_number_masked: str
    town_name: str
    village: str
    missing: list[str]
    deadline: dt.date
    intake_date: dt.date
    agent_name: str
    agent_credential: str


def form_facts(session: Session, case: Case, deferral: Deferral) -> FormFacts:
    item = get_item(session, case.service_code)
    town = session.get(Town, deferral.endorser_town_code)
    agent = _form_agent(session, case, deferral)
    return FormFacts(
        form_no=deferral.form_no, pledge_no=deferral.pledge_no, case_no=case.case_no,
        item_code=case.service_code, item_name=item.name if item else "",
        # Masked values only: the stored mask for the ID number, the display mask for the name.
        applicant_masked=pii.mask_name(case.applicant_name), id_number_masked=case.id_number_masked,
        town_name=town.name, village=case.hukou_village or "",
        missing=list(deferral.missing_materials), deadline=deferral.deadline,
        intake_date=today_local(case.created_at),
        agent_name=agent.display_name if agent else "", agent_credential=(agent.credential_no or "") if agent else "")


def _form_agent(session: Session, case: Case, deferral: Deferral) -> Staff | None:
    """The agent who opened the deferral signs the form; if an admin opened it, the case's agent."""
    opener = session.get(Staff, deferral.created_by) if deferral.created_by else None
    if opener is not None and opener.role == Role.AGENT:
        return opener
    return session.get(Staff, case.agent_id) if case.agent_id else opener


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render_forms_pdf(facts: FormFacts) -> bytes:
    font = cjk_font_name()  # FontMissing (503) before anything is drawn
    st = _styles(font)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=f"一表一书 {facts.form_no} / {facts.pledge_no}",
                            author="茂县帮办代办（尔玛云）", subject=f"办件 {facts.case_no} 容缺办理",
                            creator="尔玛云 Erma Cloud",
                            initialFontName=font)  # no stray Helvetica: every font in the file is embedded
    frame_h = doc.height
    story = [KeepInFrame(WIDTH, frame_h, _form_page(facts, st), mode="shrink"), PageBreak(),
             KeepInFrame(WIDTH, frame_h, _pledge_page(facts, st), mode="shrink")]

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawCentredString(A4[0] / 2, 12 * mm,
                                 f"一表一书 {facts.form_no} / {facts.pledge_no}　第 {document.page} 页 共 2 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=11.5, leading=16, wordWrap="CJK", alignment=TA_LEFT)
    return {
        "base": base,
        "org": ParagraphStyle("org", parent=base, fontSize=13, leading=18, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=28, alignment=TA_CENTER),
        "no": ParagraphStyle("no", parent=base, fontSize=11, alignment=TA_RIGHT),
        "label": ParagraphStyle("label", parent=base, alignment=TA_CENTER),
        "sign": ParagraphStyle("sign", parent=base, leading=22),
        "seal": ParagraphStyle("seal", parent=base, fontSize=10.5, leading=14, alignment=TA_CENTER,
                               textColor=colors.HexColor("#777777")),
        "note": ParagraphStyle("note", parent=base, fontSize=10, leading=15),
    }


def _heading(facts: FormFacts, st: dict, title: str, number: str) -> list:
    return [Paragraph(f"茂县{_esc(facts.town_name)}", st["org"]), Spacer(1, 2 * mm),
            Paragraph(title, st["title"]), Spacer(1, 3 * mm),
            Paragraph(f"编号：{number}", st["no"]), Spacer(1, 2 * mm)]


def _fact_rows(facts: FormFacts, st: dict, second_no: tuple[str, str]) -> list[list]:
    p = lambda text: Paragraph(_esc(text), st["base"])  # noqa: E731
    lab = lambda text: Paragraph(text, st["label"])  # noqa: E731
    missing = "<br/>".join(f"{i}. {_esc(m)}" for i, m in enumerate(facts.missing, 1))
    place = facts.town_name + (f"　{facts.village}" if facts.village else "")
    return [
        [lab("办件编号"), p(facts.case_no), lab(second_no[0]), p(second_no[1])],
        [lab("办理事项"), p(f"{facts.item_code}　{facts.item_name}"), "", ""],
        [lab("申请人"), p(facts.applicant_masked), lab("身份证号"), p(facts.id_number_masked)],
        [lab("户籍地"), p(place), "", ""],
        [lab("暂缺材料"), Paragraph(missing, st["base"]), "", ""],
        [lab("补齐期限"), p(f"{cn_date(facts.deadline)}前补齐上列材料"), "", ""],
        [lab("代办员"), p(facts.agent_name), lab("代办员证号"), p(facts.agent_credential)],
    ]


def _seal_box(st: dict, town_name: str) -> Table:
    box = Table([[Paragraph(f"盖章处<br/>{_esc(town_name)}<br/>便民服务中心", st["seal"])]],
                colWidths=[SEAL], rowHeights=[SEAL])
    box.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                             ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                             ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return box


def _table(rows: list[list], spans: list[int], tall: dict[int, float], font: str) -> Table:
    value_w = (WIDTH - 2 * LABEL_W) / 2
    heights = [tall.get(i) for i in range(len(rows))]
    table = Table(rows, colWidths=[LABEL_W, value_w, LABEL_W, value_w], rowHeights=heights)
    style = [("FONTNAME", (0, 0), (-1, -1), font),  # spanned-over empty cells too: no stray Helvetica
             ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
             ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
             ("TOPPADDING", (0, 0), (-1, -1), 7), ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
             ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 5),
             ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))]
    for row in spans:
        style.append(("SPAN", (1, row), (3, row)))
    table.setStyle(TableStyle(style))
    return table


def _form_page(facts: FormFacts, st: dict) -> list:
    rows = _fact_rows(facts, st, ("受理日期", cn_date(facts.intake_date)))
    agent_opinion = Paragraph(
        "申请人基本条件符合、主要材料齐全，上列材料暂缺，申请容缺受理。<br/><br/>"
        f"代办员（签字）：{BLANK}　　日期：{BLANK_DATE}", st["sign"])
    town_opinion = Paragraph(
        "□ 同意容缺受理　　□ 不同意<br/><br/><br/>"
        f"审核人（签字）：{BLANK}<br/>日期：{BLANK_DATE}", st["sign"])
    rows += [
        [Paragraph("代办员<br/>意见", st["label"]), agent_opinion, "", ""],
        [Paragraph("镇审核<br/>意见", st["label"]), town_opinion, "", _seal_box(st, facts.town_name)],
    ]
    table = _table(rows, spans=[1, 3, 4, 5, 7], tall={8: SEAL + 14 * mm}, font=st["base"].fontName)
    table.setStyle(TableStyle([("SPAN", (1, 8), (2, 8)), ("ALIGN", (3, 8), (3, 8), "CENTER"),
                               ("BACKGROUND", (0, 8), (0, 8), colors.HexColor("#f2f2f2"))]))
    note = Paragraph(
        f"说明：1. 本表与《诚信背书单》（{facts.pledge_no}）合称“一表一书”，由{_esc(facts.town_name)}盖章背书。"
        "2. 后补材料交齐时，本表与诚信背书单一并收回。"
        "3. 申请人姓名、身份证号按规定脱敏显示。", st["note"])
    return [*_heading(facts, st, "容缺快办审核表", facts.form_no), table, Spacer(1, 4 * mm), note]


def _pledge_page(facts: FormFacts, st: dict) -> list:
    rows = _fact_rows(facts, st, ("审核表编号", facts.form_no))
    endorsement = Paragraph(
        f"{_esc(facts.town_name)}为申请人{_esc(facts.applicant_masked)}办理“{_esc(facts.item_name)}”出具诚信背书，"
        f"承诺在{cn_date(facts.deadline)}前补齐上列暂缺材料。申请人系自愿申请容缺办理。", st["sign"])
    signatures = Paragraph(
        f"背书单位：{_esc(facts.town_name)}（盖章）<br/>"
        f"审核人（签字）：{BLANK}<br/>代办员（签字）：{BLANK}<br/>日期：{BLANK_DATE}", st["sign"])
    applicant = Paragraph(f"本人自愿申请容缺办理。<br/>申请人（签字）：{BLANK}　　日期：{BLANK_DATE}", st["sign"])
    rows += [
        [Paragraph("背书内容", st["label"]), endorsement, "", ""],
        [Paragraph("背书单位", st["label"]), signatures, "", _seal_box(st, facts.town_name)],
        [Paragraph("申请人<br/>确认", st["label"]), applicant, "", ""],
    ]
    table = _table(rows, spans=[1, 3, 4, 5, 7, 9], tall={8: SEAL + 14 * mm}, font=st["base"].fontName)
    table.setStyle(TableStyle([("SPAN", (1, 8), (2, 8)), ("ALIGN", (3, 8), (3, 8), "CENTER")]))
    note = Paragraph(
        f"收回说明：后补材料交齐时，本背书单与《容缺快办审核表》（{facts.form_no}）一并收回。",
        st["note"])
    return [*_heading(facts, st, "诚信背书单", facts.pledge_no), table, Spacer(1, 4 * mm), note]


def _esc(text: str) -> str:
    """Paragraphs take markup; data from the database is text."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
