"""Fonts for figures that name scenarios and regions in Chinese.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: a scenario named 商洛 drew
as boxes with a warning per glyph. Where a font with Chinese glyphs is installed (Noto
Sans CJK, Source Han Sans, WenQuanYi, Droid Sans Fallback, SimHei, Microsoft YaHei,
PingFang; Debian: `apt-get install fonts-noto-cjk`), it is added after DejaVu Sans as a
fallback, so Latin text looks as before and Chinese text draws. Without one, Chinese
characters are drawn as boxes and one warning line says what to install, instead of a
warning per glyph.
"""

from __future__ import annotations

import re
import sys
import warnings

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
             "PingFang SC", "Heiti SC", "AR PL UMing CN")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_state = {"font": None, "set": False, "warned": False}


def cjk_font() -> str | None:
    """The first installed font of `CJK_FONTS`, added to matplotlib's sans-serif fallbacks."""
    if not _state["set"]:
        import matplotlib
        from matplotlib import font_manager

        names = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in names), None)
        if found:
            fallbacks = list(matplotlib.rcParams["font.sans-serif"])
            matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans", found, *[f for f in fallbacks if f != found]]
        _state.update(font=found, set=True)
    return _state["font"]


def prepare(*texts: str) -> None:
    """Before drawing `texts` (titles, names): use a Chinese font if one is installed; if
    none is and a text has Chinese characters, say so once and keep matplotlib's
    per-glyph warnings quiet."""
    if cjk_font() is not None or not any(_CJK.search(str(t)) for t in texts):
        return
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
    if not _state["warned"]:
        _state["warned"] = True
        print("povsim: warning: no installed font has Chinese characters, so Chinese names are drawn as "
              "boxes in figures (install one, e.g. `apt-get install fonts-noto-cjk`)", file=sys.stderr)
