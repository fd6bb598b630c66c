#!/usr/bin/env python
"""Build the jieba user dictionary (var/jieba_dict/) and the NLU lookup tables (data/lookup/).

Run from the repository root with the Rasa environment's Python, before `rasa train`:

    /tmp/venv-rasa/bin/python scripts/build_jieba_dict.py

Words come from
  * the service catalog: catalog/services.yaml if present, else the researched reference
    (/work/shared/reference/catalog_reference.yaml, or --catalog): item names, the name's
    parenthesised variants, item phrasings/colloquial/aliases, and "X证/X卡/X补贴…" terms found
    in the phrasings;
  * erma_nlu/service_aliases.yml (short item phrases residents use);
  * places: catalog/places.yaml if present, else the towns / old township names / villages from
    docs/domain-notes.md §1 built into this script;
  * every span annotated as service / town / village in data/nlu/*.yml, so training entity
    spans are single jieba tokens (DIET drops misaligned annotations);
  * whole words and document names from catalog/search_lexicon.yaml (the platform's search);
  * Sichuan dialect and agency-service words.

The dictionary is copied into the trained model by the tokenizer, so var/jieba_dict/ is only
needed at training time.  The output is sorted and deterministic.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set

import yaml

REPO = Path(__file__).resolve().parent.parent
REFERENCE_CATALOG = Path("/work/shared/reference/catalog_reference.yaml")

# docs/domain-notes.md §1.1 / §1.2 (NBS division codes; old township names; sample villages).
FALLBACK_TOWNS = ["凤仪镇", "南新镇", "叠溪镇", "富顺镇", "土门镇", "洼底镇", "沙坝镇", "渭门镇",
                  "黑虎镇", "沟口镇", "赤不苏镇"]
FALLBACK_OLD_TOWNSHIPS = ["石鼓", "渭门", "沟口", "富顺", "光明", "土门", "东兴", "雅都", "曲谷",
                          "维城", "回龙", "三龙", "白溪", "洼底", "飞虹", "黑虎", "石大关", "太平",
                          "松坪沟", "永和"]
FALLBACK_VILLAGES = [
    "坪头村", "别立村", "罗山村", "攀川村", "牟托村", "凤毛坪村", "白水寨村", "安乡村", "棉簇村",
    "三场村", "较场村", "龙池村", "两河口村", "太平村", "牛尾村", "杨柳村", "蚕丛村", "沙湾村",
    "建设村", "太安村", "万安村", "永城村", "团结村", "亚坪村", "四坪村", "新洋村", "永和村",
    "竹包村", "百和村", "三雅村", "犀牛山村", "沙胡寨村", "五寨村", "椒园村", "渭门关村",
    "核桃沟村", "十里沟村", "德胜寨村", "道财村", "永宁村", "腊普村", "细口村", "鹰嘴河",
    "刁林村", "鸡公村", "沟口村", "五家村", "岐山村", "水若村", "色巴村", "浑水沟村", "深沟村",
    "浅沟村", "水草坪村", "擦耳岩村", "雅都村",
]

DIALECT_WORDS = [
    "娃儿", "啥子", "咋个", "莫得", "没得", "要得", "要不得", "晓得", "晓不得", "不晓得", "屋头",
    "老汉儿", "老汉", "哪点", "哪点儿", "遭", "遭了", "啷个", "做啥子", "搞忘了", "搞忘", "搞丢了",
    "搞落", "好多", "好久", "安逸", "巴适", "老辈子", "孙娃儿", "幺儿", "女娃儿", "男娃儿", "耍",
    "莫来头", "对头", "不对头", "咋整", "咋子", "撒子", "勒个", "弄啥", "一哈", "等哈", "问哈",
    "看哈", "查哈", "说哈", "莫人管", "莫人", "活路", "找活路", "打工", "外头", "屋里头", "老娘",
    "婆娘", "堂客", "老头儿", "老太婆", "老人家", "赶场", "摆龙门阵", "要得嘛", "不得行",
    "得行", "心焦", "扯证", "扯结婚证", "评残", "吃低保", "吃特困", "吃五保", "莫带", "带起",
    "办起", "补起", "弄起", "搞起", "交起", "好久能",
]
AGENCY_WORDS = [
    "尔玛云", "代办员", "代办点", "代办", "帮办", "便民服务中心", "便民服务站", "服务点", "户籍地",
    "户籍", "户口", "户口本", "户口簿", "身份证", "身份证号", "身份证号码", "手机号", "手机号码",
    "电话号码", "案件号", "办件号", "受理号", "编号", "后四位", "尾号", "容缺", "好差评",
    "差评", "好评", "转人工", "人工客服", "工作人员", "非常满意", "基本满意", "不满意",
    "非常不满意", "五星好评", "复印件", "原件", "一寸照", "两寸照片", "证件照", "诚信背书单",
    "审核意见", "值班组长", "轮值组长", "村委会", "村上", "镇上", "县城", "户口所在地",
]

# A dictionary word "verb + item" (办低保, 补社保卡, 进敬老院) would swallow the verb into the
# item's token and misalign every "办[低保](service)" annotation, so such words are left out
# unless they are fixed expressions that name the item themselves.
VERB_PREFIXES = ("补办", "申请", "参加", "办理", "领取", "补领", "挂失", "报名", "办", "吃", "买",
                 "补", "换", "领", "交", "缴", "签", "进", "住", "迁", "销", "报", "做", "开", "扯",
                 "要", "打", "评", "转", "送", "给", "帮", "想")
FIXED_EXPRESSIONS = {"上户口", "报户口", "落户", "销户", "销户口", "迁户口", "扯结婚证", "扯证",
                     "评残", "转学", "交通补贴", "开证明"}
VERB_SUFFIXES = ("转回来", "丢了", "过来", "回来", "申请", "申领", "签约", "理赔")
# Words that glue onto their neighbours in resident text (办低保本人 → 低保本/人).
EXCLUDED_WORDS = {"低保本"}

TERM_SUFFIXES = ("证明", "证", "卡", "补贴", "津贴", "补助", "救助", "保险", "登记", "认证",
                 "贷款", "备案", "评估", "改造", "供养", "抚恤金", "优待金", "奖补")
HEAD_STOPWORDS = {"好多", "人员", "莫得", "啥子", "上门", "那个", "这个", "一个"}
STOP_CHARS = set("的了个啥咋么有没不要办在哪去能领来把给帮我你他她们这那就也还都吗嘛呢哦啊吧")


def read_yaml(path: Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def catalog_items(path: Path) -> List[dict]:
    data = read_yaml(path)
    if isinstance(data, dict):
        for key in ("items", "services", "catalog"):
            if isinstance(data.get(key), list):
                return [i for i in data[key] if isinstance(i, dict)]
        return []
    return [i for i in data or [] if isinstance(i, dict)]


def name_terms(name: str) -> Set[str]:
    """最低生活保障申请（城乡低保） → {最低生活保障, 城乡低保}."""
    terms = set()
    base = re.sub(r"[（(].*?[）)]", "", name).strip()
    for inner in re.findall(r"[（(](.*?)[）)]", name):
        terms.update(p for p in re.split(r"[、，,/]", inner) if p)
    for suffix in ("申请", "申领", "办理"):
        if base.endswith(suffix) and len(base) - len(suffix) >= 2:
            base = base[: -len(suffix)]
            break
    terms.add(base)
    return {t.strip("“”\"' ") for t in terms}


def phrasing_terms(text: str) -> Set[str]:
    """Item terms inside a resident phrasing: a two-character jieba word + 证/卡/补贴/… suffix.

    "屋头老人眼睛看不到了，能办残疾证不？" → {残疾证}.  The head must be a word of jieba's base
    dictionary, which rejects fragments such as 村上开证明 → "上开证明".
    """
    import jieba

    jieba.initialize()
    found = set()
    for suffix in TERM_SUFFIXES:
        for match in re.finditer(r"(?=([\u4e00-\u9fff]{2})" + suffix + ")", text):
            head = match.group(1)
            if head in HEAD_STOPWORDS or set(head) & STOP_CHARS:
                continue
            if jieba.dt.FREQ.get(head, 0) > 0:
                found.add(head + suffix)
    return found


def words_from_catalog(path: Path) -> Set[str]:
    words: Set[str] = set()
    for item in catalog_items(path):
        if item.get("name"):
            words |= name_terms(str(item["name"]))
        for key in ("phrasings", "colloquial", "aliases", "synonyms", "keywords"):
            values = item.get(key) or []
            for value in values if isinstance(values, list) else [values]:
                value = str(value)
                if key in ("aliases", "synonyms", "keywords") and len(value) <= 12:
                    words.add(value)
                words |= phrasing_terms(value)
    return words


def _collect_strings(node, keys: Iterable[str], out: List[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                if isinstance(value, str):
                    out.append(value)
                elif isinstance(value, list):
                    for entry in value:
                        if isinstance(entry, str):
                            out.append(entry)
                        else:
                            _collect_strings(entry, keys, out)
                elif isinstance(value, dict):
                    _collect_strings(value, keys, out)
            else:
                _collect_strings(value, keys, out)
    elif isinstance(node, list):
        for entry in node:
            _collect_strings(entry, keys, out)


def places(path: Path) -> Dict[str, Set[str]]:
    """{'town': {...}, 'village': {...}}: current towns, old township names, villages.

    Reads catalog/places.yaml (``towns: [{name, short_name, villages}]`` and
    ``aliases: [{name, town_code}]``); falls back to the built-in list.
    """
    towns: Set[str] = set()
    villages: Set[str] = set()
    data = read_yaml(path) if path.exists() else None
    if isinstance(data, dict) and isinstance(data.get("towns"), list):
        for town in data["towns"]:
            towns.update(str(town[k]) for k in ("name", "short_name") if town.get(k))
            for village in town.get("villages") or []:
                villages.add(str(village["name"] if isinstance(village, dict) else village))
        for alias in data.get("aliases") or []:
            name = alias.get("name") if isinstance(alias, dict) else alias
            if name:
                towns.add(str(name))
        source = str(path)
    else:
        towns = set(FALLBACK_TOWNS) | set(FALLBACK_OLD_TOWNSHIPS)
        towns |= {f"{n}乡" for n in FALLBACK_OLD_TOWNSHIPS}
        villages = set(FALLBACK_VILLAGES)
        source = "built-in list from docs/domain-notes.md §1"
    towns |= {t[:-1] for t in list(towns) if t.endswith(("镇", "乡")) and len(t) >= 3}
    print(f"places: {len(towns)} town names, {len(villages)} villages ({source})")
    return {"town": towns, "village": villages}


def lexicon_words(path: Path) -> Set[str]:
    """Whole words and document names from the platform's catalog/search_lexicon.yaml."""
    if not path.exists():
        return set()
    data = read_yaml(path) or {}
    words = {str(w) for w in data.get("words") or []}
    for name, variants in (data.get("documents") or {}).items():
        words.add(str(name))
        words.update(str(v) for v in variants or [])
    return words


ANNOTATION = re.compile(r"\[([^\]]+)\]\((service|town|village)\)")


def annotated_spans(nlu_dir: Path) -> Dict[str, Set[str]]:
    """Annotated service/town/village spans, plus the spelling variants of synonym blocks
    (底保, 高零补贴 …: voice-input errors should stay one token like the word they stand for)."""
    spans: Dict[str, Set[str]] = {"service": set(), "town": set(), "village": set()}
    for path in sorted(nlu_dir.glob("*.yml")):
        content = path.read_text(encoding="utf-8")
        for text, entity in ANNOTATION.findall(content):
            spans[entity].add(text.strip())
        for block in (yaml.safe_load(content) or {}).get("nlu") or []:
            if "synonym" in block:
                spans["service"].add(str(block["synonym"]))
                spans["service"].update(
                    line.strip()[2:].strip() for line in str(block.get("examples", "")).splitlines()
                    if line.strip().startswith("- "))
    return spans


def service_aliases(path: Path) -> Set[str]:
    data = read_yaml(path)
    return {a for entry in data.values() for a in entry.get("aliases", [])}


def clean(words: Iterable[str]) -> List[str]:
    out = set()
    for word in words:
        word = str(word).strip()
        if len(word) >= 2 and not re.search(r"\s", word) and re.search(r"[\u4e00-\u9fff]", word):
            out.add(word)
    return sorted(out)


def without_verb_compounds(words: Iterable[str]) -> List[str]:
    """Drop "verb + known word" compounds such as 办低保 (see VERB_PREFIXES)."""
    words = set(words)
    kept = []
    for word in sorted(words):
        if word in EXCLUDED_WORDS:
            continue
        if word not in FIXED_EXPRESSIONS:
            if any(word.startswith(p) and word[len(p):] in words for p in VERB_PREFIXES):
                continue
            if any(word.endswith(v) and word[: -len(v)] in words for v in VERB_SUFFIXES):
                continue
        kept.append(word)
    return kept


def tokenizer_uses_hmm(config_path: Path) -> bool:
    """The `hmm` option of erma_nlu's tokenizer in config.yml (its default is False)."""
    if not config_path.exists():
        return False
    for component in (read_yaml(config_path) or {}).get("pipeline") or []:
        if str(component.get("name", "")).endswith("ErmaJiebaTokenizer"):
            return bool(component.get("hmm", False))
    return False


def check_alignment(nlu_dir: Path, dictionary: Path, hmm: bool = False) -> int:
    """Tokenize the training examples like the pipeline does and report annotations whose
    start/end fall inside a token (DIET ignores those).  Returns the number found."""
    sys.path.insert(0, str(REPO))
    import jieba
    from erma_nlu.text_normalization import normalize_text

    jieba.setLogLevel(60)
    jieba.load_userdict(str(dictionary))
    bad = 0
    entity_re = re.compile(r"\[([^\]]+)\]\(([a-z_]+)\)")
    for path in sorted(nlu_dir.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line.startswith("- ") or "](" not in line:
                continue
            annotated = line[2:]
            text, spans, pos = "", [], 0
            for match in entity_re.finditer(annotated):
                text += annotated[pos:match.start()]
                spans.append((len(text), len(text) + len(match.group(1)), match.group(2)))
                text += match.group(1)
                pos = match.end()
            text = normalize_text(text + annotated[pos:])
            bounds = [(s, e) for (_, s, e) in jieba.tokenize(text, HMM=hmm)
                      if text[s:e].strip()]
            starts, ends = {s for s, _ in bounds}, {e for _, e in bounds}
            for start, end, entity in spans:
                if start not in starts or end not in ends:
                    bad += 1
                    tokens = "/".join(text[s:e] for s, e in bounds)
                    print(f"  misaligned {entity} '{text[start:end]}' in {path.name}: {tokens}")
    return bad


def write_lookup(path: Path, name: str, entries: List[str], note: str) -> None:
    lines = [f"# GENERATED by scripts/build_jieba_dict.py — {note}. Do not edit by hand.",
             'version: "3.1"', "nlu:", f"- lookup: {name}", "  examples: |"]
    lines += [f"    - {e}" for e in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=Path, default=None,
                        help="catalog YAML (default: catalog/services.yaml, else the reference)")
    parser.add_argument("--places", type=Path, default=REPO / "catalog" / "places.yaml")
    parser.add_argument("--lexicon", type=Path,
                        default=REPO / "catalog" / "search_lexicon.yaml")
    parser.add_argument("--nlu-dir", type=Path, default=REPO / "data" / "nlu")
    parser.add_argument("--aliases", type=Path, default=REPO / "erma_nlu" / "service_aliases.yml")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "jieba_dict")
    parser.add_argument("--lookup-dir", type=Path, default=REPO / "data" / "lookup")
    parser.add_argument("--no-lookups", action="store_true", help="only write the dictionary")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the entity/token alignment report on data/nlu")
    args = parser.parse_args(argv)

    catalog = args.catalog or (REPO / "catalog" / "services.yaml")
    if not catalog.exists():
        catalog = REFERENCE_CATALOG
    service_words: Set[str] = service_aliases(args.aliases)
    if catalog.exists():
        catalog_words = words_from_catalog(catalog)
        print(f"catalog: {len(catalog_words)} terms from {catalog}")
        service_words |= catalog_words
    else:
        print(f"catalog: none found ({catalog}); using service aliases only", file=sys.stderr)

    place_names = places(args.places)
    spans = annotated_spans(args.nlu_dir)
    service_words |= spans["service"]
    place_names["town"] |= spans["town"]
    place_names["village"] |= spans["village"]

    words = without_verb_compounds(clean(
        service_words | lexicon_words(args.lexicon) | place_names["town"]
        | place_names["village"] | set(DIALECT_WORDS) | set(AGENCY_WORDS)))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "erma_userdict.txt"
    # No frequency column: jieba then computes one just high enough to keep each word whole.
    target.write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    print(f"wrote {len(words)} words to {target}")

    if not args.no_lookups:
        args.lookup_dir.mkdir(parents=True, exist_ok=True)
        write_lookup(args.lookup_dir / "places.yml", "town", clean(place_names["town"]),
                     "towns and old township names")
        with open(args.lookup_dir / "places.yml", "a", encoding="utf-8") as handle:
            handle.write("- lookup: village\n  examples: |\n")
            handle.write("".join(f"    - {v}\n" for v in clean(place_names["village"])))
        write_lookup(args.lookup_dir / "service.yml", "service",
                     clean(w for w in service_words if len(w) <= 10),
                     "item phrases from the catalog and erma_nlu/service_aliases.yml")
        print(f"wrote lookup tables to {args.lookup_dir}")
    if not args.no_check:
        bad = check_alignment(args.nlu_dir, target, tokenizer_uses_hmm(REPO / "config.yml"))
        print(f"entity annotations not aligned with jieba tokens: {bad}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
