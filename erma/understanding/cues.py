"""Cues in a resident's words that the classifiers do not decide: a case reference or a progress
question (status), a request to start now (apply), "办错了" (the wrong item), and which detail about
an item was asked (so the answer can lead with it)."""
from __future__ import annotations

import re
import unicodedata

# A case number as residents type it (EM-20261103-0042, em20261103 0042, 20261103-0042), or
# "受理号/办件号" followed by digits: either one means "my case", i.e. a status question.
CASE_REFERENCE = re.compile(
    r"(?<![0-9a-z])[a-z]{2}[ _-]?20[0-9]{6}[ _-]?[0-9]{4}(?![0-9])"
    r"|(?<![0-9a-z-])20[0-9]{6}-[0-9]{4}(?![0-9])"
    r"|(?:受理|办件|案件|业务)(?:编号|号|单号)[^0-9]{0,6}[0-9]{4,}")

# Asking after something already handed in: "批了没", "办到哪了", "还没到", "有消息没", "进度".
# (Time words alone are not progress: "低保好久能批" asks how long the service takes.)
PROGRESS = re.compile(
    r"(?:批|办|审|做|弄|改|开|出|发|到|好|过|评|排|约|寄|退|迁|修|装)(?:好|完|下来|出来|到|上|成|通过)?了(?:没有|没得|莫得|没|吗|不)"
    r"|(?:批|审核|评|办|做|弄|通过)(?:好|完|上|下来)?(?:没有|没得|莫得)(?!.*(?:咋|怎|啥|什么|要不要|能不能))"
    r"|(?:办|批|审|走|弄|报|排|推|交|转)到哪|到哪一步|哪一步了|到哪了|哪一级|进度|进展|jindu"
    r"|有消息|有结果|结果呢|有回音|还没(?:到|发|批|下来|消息|动静|人|寄|出来|收到|回复|通知|打|装|来)"
    r"|没(?:消息|动静|回音|回复|人理|人管|下文)|咋个还没|怎么还没|审核过|通过了?没|排到第"
    r"|[好完]了?(?:没有|没得|莫得|没)[？?]?$|le ?mei|hao ?le ?ma")

# Handed in already ("交了", "报上去了", "上个月报的", "验收了") and now waiting ("好久发", "多久到"):
# a time question about a case, not about the service.
SUBMITTED = re.compile(r"(?:交|报|递|申请|提交|登记|备案|验收|查勘|评估)(?:上去|过)?了|(?:月份?|周|礼拜|几天|昨天|去年|前年)"
                       r"(?:[^，,。]{0,6})?(?:交|报|申请|递|办)的|已经(?:交|报|申请|递|办)|yanshou ?le")
WAITING = re.compile(r"(?:多久|什么时候|啥时候|哪天|几时|咋个还|怎么还)[^，,。？?]{0,6}"
                     r"(?:发|到|出来|下来|批|拿|送|安排|办好|开始|有结果|通知)")

# The fact asked, first match wins (a message may ask several; the full answer covers the rest).
FACTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("photo", re.compile(r"照片|相片|拍照|寸照|照相")),
    ("in_person", re.compile(r"本人|亲自|到场|人要回|要回来|回来一趟|回去一趟|不回来|回不来|人不在|别人代|帮[他她]办|代[他她]办|代签")),
    ("eligibility", re.compile(r"条件|资格|够不够|符合|符不符合|能不能[办领申享]|能[办领]不|可不可以[办领申]|有没[有得].{0,6}(补|钱|份)|算不算|行不行|得不得行|有份")),
    ("time", re.compile(r"多久|多长时间|几天|几个月|时限|多少天|好多天|啥时候能|什么时候能|哪天能")),
    ("fee", re.compile(r"收费|要钱|花钱|费用|免费|多少钱")),
)


# Asking to start now ("帮我妈申请…", "给我报个低保", "我要办残疾证", "申农机补贴", "麻烦帮我办一下")
# — unless the same message asks something about it ("我想申请低保，要带啥").
START = re.compile(r"(?:帮|给|替)(?:我|我们|我家|俺)[^，,。？?]{0,4}?(?:申请|办|报|弄|整|登记|预约|改|补|开)"
                   r"|我(?:要|想|想要|准备)(?:现在)?(?:就)?(?:申请|办|报|弄|整|登记)|现在就办|马上办|直接办|帮忙(?:申请|办|报)"
                   r"|申请一下|报个名|报名|wo ?yao|bang ?wo|shen ?qing")
# A bare order at the start of a short message: "要个轮椅", "办就业创业证", "申公租房", "代交养老保险".
ORDER = re.compile(r"^(?:我)?(?:要|想)?(?:申请?|办理?|报|领|打|开|预约|补|代交|签|帮补|新办|换)(?!什么|啥|哪)")
# Asking what an item needs or how it goes ("办残疾证要啥子", "我要申请低保要带什么", "医保要啥手续"),
# whatever request words come with it: a question, answered with the checklist (which offers to start).
# Starting an application instead would run it on the item the conversation last named, not this one.
_HOW_WORDS = r"什么|哪些|哪样|怎么|如何|多久|多长时间|多少|好多|几[天个张份样次趟]|要不要|需不需要|条件|资格"
ASKS_HOW = re.compile(_HOW_WORDS)
_ASK_WORDS = (_HOW_WORDS + r"|带|咋|够不够|好久|哪里|哪点|在哪"
              r"|[吗不没][？?]?$|[？?]|duojiu|haojiu|zenme|shenme|nali|yao ?sha")
ASKING = re.compile(_ASK_WORDS + r"|能不能|可不可以|可以不|行不行|得不得")
# "能不能帮我办一下" is a polite order, not a question — unless it asks what, how or whether.
POLITE = re.compile(r"(?:能不能|可不可以|麻烦(?:你们|你)?)帮(?:我|忙|下|一下)?|帮我把")
ASKING_WHAT = re.compile(_ASK_WORDS + r"|本人")


def asks_how(normalized: str) -> bool:
    """`normalized`: the text after the search lexicon (啥子 → 什么, 咋个 → 怎么)."""
    return bool(ASKS_HOW.search(normalized))


def wants_to_start(normalized: str) -> bool:
    if POLITE.search(normalized):
        return not ASKING_WHAT.search(normalized)
    if ORDER.search(normalized) and len(normalized) <= 20 and not ASKING.search(normalized):
        return True
    return bool(START.search(normalized)) and not ASKING.search(normalized)


# Coming back to an application left unfinished ("继续刚才的申请", "接着填", "刚才没填完的接着弄"):
# the conversation's own application, so an apply with no item of its own (never out of scope).
RESUME = re.compile(r"(?:继续|接着|接到)(?:刚才|之前|上次|前面)?(?:的|那个)?(?:申请|办|填|弄|整)"
                    r"|(?:刚才|之前|上次|前面)[^，,。？?]{0,6}(?:继续|接着)")


def resumes_application(normalized: str) -> bool:
    return bool(RESUME.search(normalized)) and not ASKING.search(normalized)


# "办错了 / 不是这个": the item just named is not the one the resident meant.
WRONG_ITEM = re.compile(r"办错|弄错|搞错|整错|选错|不是这[个项一样]|不是办这|换一[个项样]")


def says_wrong_item(normalized: str) -> bool:
    return bool(WRONG_ITEM.search(normalized))


def has_case_reference(text: str) -> bool:
    return bool(CASE_REFERENCE.search(unicodedata.normalize("NFKC", text or "").lower()))


def has_progress_cue(text: str, normalized: str = "") -> bool:
    """`normalized`: the text after the search lexicon (好久 → 多久), where WAITING is looked for."""
    raw = unicodedata.normalize("NFKC", text or "").lower()
    return bool(PROGRESS.search(raw) or (SUBMITTED.search(raw) and WAITING.search(normalized or raw)))


_HOW_MANY = re.compile(r"[几多][张份个寸次趟天]|多少张|多少份|多大")


def without_fact_words(normalized: str) -> str:
    """The text with the words of the detail asked taken out ("照片要几张" → "要几张")."""
    for _, pattern in FACTS:
        normalized = pattern.sub(" ", normalized)
    return _HOW_MANY.sub(" ", normalized)


def asked_fact(normalized: str) -> str | None:
    """`normalized`: the text after the search lexicon (好久 → 多久, 啥子 → 什么…)."""
    for name, pattern in FACTS:
        if pattern.search(normalized):
            return name
    return None
