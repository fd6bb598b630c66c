"""One-off conversion of the researched reference into the county-editable catalog.

    python scripts/convert_catalog.py [REFERENCE] [OUTPUT]

Defaults: /work/shared/reference/catalog_reference.yaml → catalog/services.yaml. The output was
produced once and committed; county admins edit catalog/services.yaml from then on. This script
stays for provenance: it records how each field was derived from the reference.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from erma.catalog.loader import load_catalog  # noqa: E402

DEFAULT_REFERENCE = Path("/work/shared/reference/catalog_reference.yaml")
DEFAULT_OUTPUT = ROOT / "catalog" / "services.yaml"

# Supplement deadline cap for 容缺 items, in working days; never above the promised limit.
DEFAULT_DEFERRAL_CAP = 10

# Materials that may be supplied after approval, per 容缺-listed item, chosen from the reference's
# commonly_missing and rongque_note. Identity documents (身份证, 户口簿), the application itself,
# authorisations and the item's qualifying certificate are never listed here (design.md §2 rule 4).
# Values are substrings of the material name.
DEFERRABLE = {
    "MX-002": ["变更事由材料"],  # 户口簿变更页 is an identity document; the event itself is checked in police data
    "MX-005": ["相关证明"],  # emergencies are helped first, certificates follow
    "MX-009": ["受灾现场照片"],
    "MX-013": ["账户信息复印件"],
    "MX-014": ["照片"],
    "MX-017": ["低保证", "账户信息复印件"],  # 低保 status is checked in the civil-affairs system; 残疾人证 stays core
    "MX-018": ["账户信息复印件"],
    "MX-021": ["低保证或困难证明材料"],
    "MX-022": ["残疾人证（一、二级）复印件"],  # the original is shown at intake (added below); only the file copy waits
    "MX-024": ["代扣缴费"],  # 户口簿复印件 cannot wait (identity); the debit account can (added below)
    "MX-025": ["账户信息"],
    "MX-030": ["照片"],
    "MX-032": ["代扣缴费"],  # as MX-024
    "MX-034": ["异地居住证明", "转诊证明"],
    "MX-037": ["身份材料"],  # status comes from civil-affairs / rural data comparison; the copy is the record
    "MX-038": ["照片"],
    "MX-042": ["务工证明"],
    "MX-047": ["照片"],
    "MX-048": ["家属银行账户"],  # 入伍批准书 is the qualifying certificate
    "MX-055": ["结婚证复印件"],
    "MX-075": ["学籍证明或就读证明", "银行卡"],
    "MX-092": ["经济困难状况说明"],  # the law lets a personal pledge stand in for proof
}

# Materials the reference does not list, added so a 容缺 item has a deferrable secondary material
# without deferring an identity document or the qualifying certificate. Flagged for county review.
ADDED_MATERIALS = {
    "MX-022": [("残疾人证（一、二级）原件", 2)],
    "MX-024": [("社会保障卡或银行卡复印件（用于代扣缴费）", None)],
    "MX-032": [("社会保障卡或银行卡复印件（用于代扣缴费）", None)],
}

# Parenthesised conditions that make a material optional ("bring it if it applies").
CONDITIONAL = re.compile(r"（[^（）]*(如有|代办时|如适用|换领|换发|转诊就医时|随迁入学|可不需)[^（）]*）")

SUPPLIER_RULES = [
    (re.compile(r"^村|村组|村民小组|村级|承包地面积确认"), "村委会"),
    (re.compile(r"诊断证明|病历|检查报告|出院小结|体检|死亡医学证明|分娩记录|评定表|费用明细"), "医疗机构"),
    (re.compile(r"学籍|就读证明"), "学校"),
    (re.compile(r"务工证明|劳动关系|就业证明"), "用人单位"),
    (re.compile(r"鉴定|评估结果|认定结果|核查认定|伤残评定|事故认定|测绘|核查表"), "部门"),
]

# Who may apply, per item: the first line of the service guide.
APPLICANTS = {
    "MX-001": "户籍在茂县、家庭人均收入低于低保标准且财产状况符合规定的城乡居民家庭",
    "MX-002": "已享受低保的家庭，家庭人口（添丁、去世、婚嫁）或收入发生变化时",
    "MX-003": "无劳动能力、无生活来源、无法定赡养抚养扶养义务人（或义务人无履行能力）的老年人、残疾人和未成年人",
    "MX-004": "已认定为特困人员、本人自愿入住敬老院集中供养的",
    "MX-005": "因火灾、交通事故、突发重病等意外，基本生活暂时严重困难的家庭或个人",
    "MX-006": "因看病、上学等必需开支突然增加、超出承受能力，基本生活严重困难的家庭",
    "MX-007": "够不上低保、但家庭收入略高于低保标准，或因刚性支出生活困难的家庭",
    "MX-008": "低保、特困、低收入人口等困难群众，医保报销后个人负担仍然较重的",
    "MX-009": "因洪涝、泥石流、地震等自然灾害基本生活困难的受灾群众",
    "MX-010": "住房因自然灾害倒塌或严重损坏、需要恢复重建的受灾家庭",
    "MX-011": "父母双方均已死亡或被宣告死亡、失踪的未满18周岁儿童（由监护人申请）",
    "MX-012": "父母重残、重病、服刑、失联等，事实上无人抚养的儿童（由监护人申请）",
    "MX-013": "户籍在茂县、年满80周岁的老年人（本人或家属申请）",
    "MX-014": "年满60周岁的老年人",
    "MX-015": "经济困难、高龄或失能的老年人",
    "MX-016": "低保、特困、失能等特殊困难老年人家庭",
    "MX-017": "持第二代残疾人证的低保家庭残疾人",
    "MX-018": "持第二代残疾人证、残疾等级为一、二级，或三、四级智力、精神残疾的重度残疾人",
    "MX-019": "视力、听力、言语、肢体、智力、精神等方面有残疾、尚未办证的人",
    "MX-020": "已持有残疾人证，证件到期换领、户口迁移或遗失补办的",
    "MX-021": "持残疾人证、需要轮椅、助听器、拐杖等辅助器具的残疾人（困难残疾人优先）",
    "MX-022": "参加城乡居民养老保险的一、二级重度残疾人",
    "MX-023": "有无障碍改造需要的残疾人家庭（困难家庭优先）",
    "MX-024": "年满16周岁（在校学生除外）、未参加职工养老保险的城乡居民",
    "MX-025": "参加城乡居民养老保险、年满60周岁、缴费年限符合规定的居民",
    "MX-026": "已参加城乡居民养老保险，需要调整缴费档次或更正个人信息的",
    "MX-027": "养老保险关系需要在外地与茂县之间转移的参保人",
    "MX-028": "参加城乡居民养老保险的人去世后，其继承人或指定受益人",
    "MX-029": "正在领取养老保险待遇的人（每年认证一次）",
    "MX-030": "需要首次办理或换领第三代社会保障卡的人（含儿童）",
    "MX-031": "社会保障卡遗失、损坏需要挂失或补换的持卡人",
    "MX-032": "未参加医保的城乡居民，含新生儿",
    "MX-033": "已参加城乡居民医保，需要更正姓名、证件号码、电话等信息的参保人",
    "MX-034": "长期在外地居住、工作，或需要转到外地就医的参保人",
    "MX-035": "患高血压、糖尿病等门诊慢性病、特殊疾病的参保人",
    "MX-036": "在外地或未联网医院看病、没能直接结算医疗费用的参保人",
    "MX-037": "低保、特困、防止返贫监测对象等困难群众",
    "MX-038": "在法定劳动年龄内、需要就业或创业的城乡劳动者",
    "MX-039": "在法定劳动年龄内、有劳动能力和就业要求、处于失业状态的城乡居民",
    "MX-040": "大龄、残疾、低保家庭等就业困难的城乡劳动者",
    "MX-041": "脱贫人口、防止返贫监测对象、就业困难人员等",
    "MX-042": "脱贫劳动力（含监测对象）跨县外出务工的",
    "MX-043": "参加职业技能培训并取得合格证书或职业技能等级证书的城乡劳动者",
    "MX-044": "有创业意愿的城乡劳动者、返乡创业人员、小微企业主",
    "MX-045": "以灵活就业方式就业并缴纳社会保险费的就业困难人员",
    "MX-046": "退役军人（退伍、转业、复员）",
    "MX-047": "退役军人、烈士遗属等优抚对象",
    "MX-048": "义务兵入伍前户籍在茂县的家庭",
    "MX-049": "在乡复员军人、参战参试退役人员等优抚对象",
    "MX-050": "因战、因公致残的退役军人及符合条件的伤残人员",
    "MX-051": "烈士遗属、因公牺牲军人遗属、病故军人遗属",
    "MX-052": "享受抚恤补助、看病自付费用较重的优抚对象",
    "MX-053": "生活遇到困难的退役军人",
    "MX-054": "生育子女的夫妻（一孩、二孩、三孩）",
    "MX-055": "农村独生子女或两女家庭、年满60周岁的父母",
    "MX-056": "独生子女死亡或伤残（三级以上）家庭的父母",
    "MX-057": "城乡居民（老年人、慢性病患者、孕产妇、儿童优先）",
    "MX-058": "预防接种证遗失的儿童（由监护人申请）",
    "MX-059": "出生医学证明遗失、损坏或需要更正的（由父母或监护人申请）",
    "MX-060": "承包耕地的农户，信息需要登记或变更（分户、继承、面积或账户变化等）",
    "MX-061": "领取惠民惠农补贴、需要变更发放账户的群众",
    "MX-062": "购买了补贴范围内农业机械的农户",
    "MX-063": "承包草原、享受禁牧补助或草畜平衡奖励的牧户",
    "MX-064": "参加退耕还林（还草）、补助信息需要变更或兑现的农户",
    "MX-065": "身体健康的脱贫人口、防止返贫监测对象等农村劳动力",
    "MX-066": "需要采伐自家林木作自用材（如修房子）的农村居民",
    "MX-067": "承包土地需要变更或流转备案的农户",
    "MX-068": "需要确认集体经济组织成员身份的村民（如婚嫁、迁入人员）",
    "MX-069": "需要确认耕地、林地、草场承包情况的农户",
    "MX-070": "符合“一户一宅”条件、需要新建或改建住房的农村村民",
    "MX-071": "农村宅基地和房屋需要办理不动产登记的村民",
    "MX-072": "住房不安全的低保户、特困户、监测对象等农村低收入群体",
    "MX-073": "住在地质灾害隐患点、需要避险搬迁的农户",
    "MX-074": "在县城工作或居住、住房困难的家庭",
    "MX-075": "就读中职、高职（含技工院校）的脱贫家庭（含监测对象）子女",
    "MX-076": "家庭经济困难、被录取或就读全日制高校的学生",
    "MX-077": "义务教育阶段需要入学、转学的适龄儿童（由监护人申请）",
    "MX-078": "家庭经济困难的义务教育寄宿生、普通高中学生",
    "MX-079": "因病、因灾、因意外等收入骤减或支出骤增、有返贫致贫风险的农户",
    "MX-080": "有发展产业意愿和还款能力的脱贫户、监测户",
    "MX-081": "发展种植、养殖等产业的脱贫户、监测户",
    "MX-082": "户籍在茂县、需要申领、换领或补领居民身份证的居民",
    "MX-083": "正在办理身份证期间急需使用身份证的居民",
    "MX-084": "需要迁移户口（投靠、婚迁、省内迁移等）的居民",
    "MX-085": "新出生的婴儿（由父母或监护人申报）",
    "MX-086": "户籍在茂县的去世人员（由家属申报）",
    "MX-087": "户口登记信息有误、需要变更更正的居民",
    "MX-088": "户口簿遗失或损坏的家庭（户主或家庭成员）",
    "MX-089": "有法律法规依据、需要核实居住情况的居民",
    "MX-090": "需要新建、改建住房的村民",
    "MX-091": "邻里、家庭、土地等民间纠纷的当事人",
    "MX-092": "经济困难、需要法律帮助的群众（如农民工讨薪、赡养纠纷）",
    "MX-093": "符合结婚条件的男女双方",
    "MX-094": "需要婚姻登记记录证明的当事人（本人或持委托）",
    "MX-095": "结婚证、离婚证遗失或损坏的当事人",
    "MX-096": "去世人员的家属（低保、特困等困难家庭可减免基本殡葬服务费用）",
    "MX-097": "新生儿的父母或监护人",
    "MX-098": "去世人员的家属",
    "MX-099": "需要办理残疾人证及相关补贴的残疾人（或其监护人）",
    "MX-100": "低保证、特困供养证遗失或损坏的低保户、特困人员",
    "MX-101": "想了解自家是否符合低保、临时救助等条件的群众",
    "MX-102": "参加城乡居民养老保险、需要缴费或查询缴费记录的居民",
    "MX-103": "参加城乡居民医保、需要缴费或查询待遇的居民",
    "MX-104": "需要打印养老、医保参保缴费证明的参保人",
    "MX-105": "领取了独生子女父母光荣证的父母",
    "MX-106": "自主就业的退役士兵",
    "MX-107": "自主创业或灵活就业的残疾人",
    "MX-108": "有康复需要的残疾儿童（由监护人申请）",
    "MX-109": "参加政策性种植、养殖保险，或发生灾害损失需要理赔的种养殖户",
}


def core_name(name: str) -> str:
    """The material name without its parenthesised details."""
    return re.sub(r"（[^（）]*）", "", name)


def material_form(name: str) -> str:
    core = core_name(name)
    if "复印件" in name:
        return "复印件"
    if "原件" in name:
        return "原件"
    if re.search(r"身份证|户口簿", core):
        return "原件及复印件"  # shown for checking, a copy stays in the file
    if re.search(r"申请|申报|申领|表|承诺|说明|授权书|委托|名单", core):
        return "原件"
    if re.search(r"账户|银行卡|社会保障卡|社保卡|一卡通", core):
        return "复印件"
    if re.search(r"照片|合照|佐证", core):
        return "原件"
    if re.search(r"合同|出生医学证明|证明书|证书|执照|批准书|通知书|证件|证$|证或", core):
        return "原件及复印件"
    if re.search(r"证明|记录|意见|结果|报告|病历|小结|清单|发票|票据|结算单|声明|人脸识别|公示|信息|情况|计划", core):
        return "原件"
    if core.endswith("材料"):
        return "原件及复印件"
    return "原件"


def material_count(name: str) -> tuple[int, str]:
    if re.search(r"双方|夫妻|父母身份证|本人及配偶|学生及", name):
        return 2, "两人各1份"
    if re.search(r"家庭成员身份证|家属身份证", name):
        return 1, "每人各1份"
    if re.search(r"照片|合照", core_name(name)) and "电子版" not in name:
        return 2, ""
    return 1, ""


def material_supplier(name: str) -> str:
    core = core_name(name).split("或")[0]  # the first alternative names the usual supplier
    for pattern, supplier in SUPPLIER_RULES:
        if pattern.search(core):
            return supplier
    return "申请人"


def convert_material(name: str, deferrable_keys: list[str]) -> dict:
    condition = CONDITIONAL.search(name)
    count, count_note = material_count(name)
    deferrable = any(key in name for key in deferrable_keys)
    notes = [n for n in (count_note, "有则提供" if condition else "") if n]
    if deferrable:
        notes.append("可容缺：经户籍镇审核同意后可先办后补")
    if "人脸识别" in name:
        notes.append("无需纸质材料，本人现场或用手机完成")
    if re.search(r"(户口簿|证（[^）]*）)原件$", name):
        notes.append("现场核验后退还")
    return {
        "name": name,
        "form": material_form(name),
        "count": count,
        "deferrable": deferrable,
        "required": condition is None,
        "supplier": material_supplier(name),
        "note": "；".join(notes),
    }


def service_guide(ref: dict, deferrable_names: list[str], cap: int | None) -> str:
    lines = [f"申请对象：{APPLICANTS[ref['code']]}。"]
    lines.append(
        "办理地点：可到任一村便民服务站、镇便民服务中心，或县城（凤仪镇）尔玛云代办点您户籍所在镇的窗口递交，"
        "由户籍所在镇审核，不必专门回户籍地。"
    )
    days = ref["time_limit_working_days"]
    if ref["time_limit_unit"] == "calendar_days":
        lines.append(f"办理时限：{days}日（自然日）。")
    else:
        lines.append(f"办理时限：承诺{days}个工作日（公示、鉴定、补正期间不计入）。")
    mode = ref["agent_mode"]
    inner = re.search(r"（(.+)）", mode)
    if mode.startswith("全程代办"):
        lines.append("代办服务：代办员全程代办、免费，您只需备齐材料，办理结果会告诉您。")
    elif mode.startswith("帮办"):
        need = f"{inner.group(1)}，" if inner else "个别环节需要本人配合，"
        lines.append(f"代办服务：代办员免费帮办，{need}其余手续由代办员办理。")
    else:
        need = inner.group(1) if inner else "需本人到场"
        lines.append(
            f"代办服务：本事项{need}，办理单位是{ref['department']}；代办员免费帮您预审材料、预约时间，免得白跑。"
        )
    if ref["rongque_eligible"]:
        lines.append(
            f"容缺办理：经户籍镇审核同意，{'、'.join(deferrable_names)}可先办后补，须在{cap}个工作日内补齐。"
        )
    return "\n".join(lines)


def convert_item(ref: dict) -> dict:
    code = ref["code"]
    listed = bool(ref["rongque_eligible"])
    keys = DEFERRABLE.get(code, []) if listed else []
    names = list(ref["materials"])
    for name, position in ADDED_MATERIALS.get(code, []):
        names.insert(len(names) if position is None else position, name)
    materials = [convert_material(name, keys) for name in names]
    promised = int(ref["time_limit_working_days"])
    cap = min(DEFAULT_DEFERRAL_CAP, promised) if listed else None
    deferrable_names = [m["name"] for m in materials if m["deferrable"]]
    if listed and not deferrable_names:
        raise SystemExit(f"{code}: 容缺事项没有可容缺材料，请检查 DEFERRABLE")
    phrasings = [ref["name"]] + [p for p in ref["colloquial"] if p != ref["name"]]
    return {
        "code": code,
        "name": ref["name"],
        "category": ref["category"],
        "department": ref["department"],
        "item_type": ref["item_type"],
        "agent_mode": ref["agent_mode"],
        "agent_handled": not ref["agent_mode"].startswith("咨询预约"),
        "in_person_required": bool(ref["in_person_required"]),
        "rongque_listed": listed,
        "rongque_note": ref.get("rongque_note", ""),
        "promised_working_days": promised,
        "time_limit_unit": ref["time_limit_unit"],
        "deferral_max_working_days": cap,
        "phrasings": phrasings,
        "guide": service_guide(ref, deferrable_names, cap),
        "materials": materials,
    }


HEADER = """\
# 茂县“尔玛云”便民代办事项目录（109项，其中22项列入容缺清单）
# 由 scripts/convert_catalog.py 从 catalog_reference.yaml（研究参考资料，非县里正式清单）一次性转换生成，
# 此后由县级管理员直接维护本文件；修改后重启平台即生效，文件有误时平台会指出哪一项、哪个字段。
# 字段说明：
#   code 事项编码（MX-三位数字，不可重复、不要改动）；agent_handled 是否可由代办员代办；
#   rongque_listed 是否列入容缺清单；promised_working_days 承诺时限；
#   deferral_max_working_days 容缺补正期限（工作日，不得超过承诺时限，仅容缺事项填写）；
#   phrasings 群众常见说法（用于检索）；guide 办事指南；
#   materials 材料：form 原件|复印件|原件及复印件，count 份数，deferrable 可否容缺（仅容缺事项、且不得为身份证件和申请核心材料），
#   required 是否必交（false 表示“如有/代办时”等有条件提供），supplier 由谁提供。
"""


class CatalogDumper(yaml.SafeDumper):
    """Writes multi-line text (the guides) as readable literal blocks for the admins."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


CatalogDumper.add_representer(str, _represent_str)


def main(argv: list[str]) -> None:
    reference = Path(argv[1]) if len(argv) > 1 else DEFAULT_REFERENCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    refs = yaml.safe_load(reference.read_text(encoding="utf-8"))["items"]
    items = [convert_item(ref) for ref in refs]
    body = yaml.dump({"items": items}, Dumper=CatalogDumper, allow_unicode=True, sort_keys=False, width=1000)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(HEADER + body, encoding="utf-8")
    loaded = load_catalog(output)  # the output must pass the same validation as at start-up
    listed = sum(item.rongque_listed for item in loaded)
    print(f"wrote {output}: {len(loaded)} items, {listed} on the 容缺 list")


if __name__ == "__main__":
    main(sys.argv)
