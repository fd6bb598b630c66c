"""The Chinese font printable PDFs embed: the configured file first, then what fontconfig offers.

A PDF drawn with a font that lacks Chinese glyphs prints rows of empty boxes, which an agent
might only notice at the township's counter. So a font is accepted only if it really holds the
characters our forms use; without one the caller gets a clear 503 instead of a useless PDF."""
from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from erma.errors import DomainError
from erma.settings import get_settings

# Characters every Chinese form needs; a font missing any of them is not a Chinese font for us.
PROBE = "容缺快办审核表诚信背书单镇盖章签字日期补齐收回"
FC_CANDIDATES = 10


class FontMissing(DomainError):
    status_code = 503


def _try_load(path: str, index: int) -> str | None:
    """Registers the font with reportlab and returns its name, or None if it is unusable."""
    if not path.lower().endswith((".ttf", ".ttc", ".otf")) or not Path(path).is_file():
        return None
    name = "ErmaCJK-" + hashlib.sha1(f"{path}#{index}".encode()).hexdigest()[:10]
    try:
        pdfmetrics.getFont(name)
        return name
    except KeyError:
        pass
    try:
        font = TTFont(name, path, subfontIndex=index)
    except (TTFError, OSError, ValueError):  # e.g. CFF-outline OpenType, which reportlab cannot embed
        return None
    if not all(ord(ch) in font.face.charToGlyph for ch in PROBE):
        return None
    pdfmetrics.registerFont(font)
    return name


def _fontconfig_candidates() -> list[tuple[str, int]]:
    """Fonts fontconfig ranks best for Simplified Chinese, best first (empty without fontconfig)."""
    try:
        out = subprocess.run(["fc-match", "-s", "-f", "%{file}\t%{index}\n", ":lang=zh-cn"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        path, _, index = line.partition("\t")
        if path.lower().endswith((".ttf", ".ttc")):
            found.append((path, int(index) if index.isdigit() else 0))
        if len(found) >= FC_CANDIDATES:
            break
    return found


@lru_cache
def _resolve(configured: str, index: int) -> str:
    for path, idx in [(configured, index), *_fontconfig_candidates()]:
        if path and (name := _try_load(path, idx)):
            return name
    raise FontMissing("pdf_font_missing",
                      "服务器上没有可用的中文字体，暂时无法生成可打印的表格。"
                      "请联系管理员安装中文字体（fonts-wqy-microhei）后再试。")


def cjk_font_name() -> str:
    """The registered reportlab font name of a usable Chinese font, or FontMissing (503)."""
    settings = get_settings()
    return _resolve(settings.erma_pdf_font, settings.erma_pdf_font_index)
