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


def sweep_file(folder: Path, names=("baseline", "shangluo"), files=None, *, name: str = "mini", seed: int = 7,
               replications: int = 2, households: int = 300, body: str = "") -> Path:
    """A sweep file `folder/<name>.toml` over short copies of the scenarios `files` (default
    `names`), run as `names`, the first the baseline; `body` holds tables such as [grid]."""
    entries = ""
    for run_name, stem in zip(names, files or names):
        short_copy(folder, stem)
        entries += f'\n[[scenarios]]\nname = "{run_name}"\nfile = "scenarios/{stem}.toml"\n'
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\nseed = {seed}\nreplications = {replications}\nhouseholds = {households}\n'
                    f'baseline = "{names[0]}"\n{entries}\n{body}', encoding="utf-8")
    return path
