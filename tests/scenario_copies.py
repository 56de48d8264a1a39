"""Short copies of the shipped scenarios for tests that run sweeps: two years, so a run
takes a fraction of a second."""

from __future__ import annotations

import re
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
END_YEAR = 2017


def short_copy(folder: Path, stem: str, end_year: int = END_YEAR) -> Path:
    """experiments/scenarios/<stem>.toml cut to end in `end_year`, in folder/scenarios/."""
    text = (SCENARIOS / f"{stem}.toml").read_text(encoding="utf-8")
    text = re.sub(r"^end_year\s*=.*$", f"end_year = {end_year}", text, flags=re.M)
    out = folder / "scenarios" / f"{stem}.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
