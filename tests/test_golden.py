"""Golden summaries: the numbers of a few fixed runs per profile, checked in with the tests.

Any change to the model's results, however small, shows here: every numeric timeseries
column of every year of two seeds per profile must match `tests/golden/<profile>.json` to
a relative 1e-9. Work that must keep results identical (speed-ups, refactoring) is
guarded by this; work that changes results on purpose (a parameter, a behaviour) updates
the golden files deliberately, in a commit whose message says why:

    python tests/test_golden.py --update            # every profile
    python tests/test_golden.py --update shangluo   # one profile

A new column does not fail the test (the golden files only know the columns of their
day); a column that disappears does.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
PROFILES = ("national", "nanning", "guangyuan", "guangdong", "shangluo")
SEEDS = (1, 20160101)
YEARS = 3  # the profile's start year and two more
HOUSEHOLDS = 2000
REL_TOL = 1e-9
ABS_TOL = 1e-9  # for values that are (nearly) zero


def case(profile: str) -> dict:
    """The scenario of a golden case: the profile's start, three years, every measure on
    (so every pass of the engine contributes to the numbers)."""
    from sim.registry import MEASURES
    from sim.profiles import load_profile

    start = load_profile(profile).data["start_year"]
    return {"profile": profile, "start_year": start, "end_year": start + YEARS - 1,
            "households": HOUSEHOLDS, "measures": {name: True for name in MEASURES}}


def _scenario_toml(spec: dict) -> str:
    lines = [f'name = "golden_{spec["profile"]}"', f'profile = "{spec["profile"]}"',
             f'start_year = {spec["start_year"]}', f'end_year = {spec["end_year"]}',
             f'households = {spec["households"]}', "", "[measures]"]
    lines += [f"{name} = {'true' if on else 'false'}" for name, on in spec["measures"].items()]
    return "\n".join(lines) + "\n"


def compute(profile: str, spec: dict | None = None) -> list[dict]:
    """One row per seed x year: every numeric column of the run's timeseries."""
    from experiments.runner import run_one
    from experiments.scenario import load_scenario

    spec = spec or case(profile)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"golden_{profile}.toml"
        path.write_text(_scenario_toml(spec), encoding="utf-8")
        scenario = load_scenario(path)
        rows = []
        for seed in SEEDS:
            frame = run_one(scenario, seed)
            for record in frame.to_dict(orient="records"):
                rows.append({k: _plain(v) for k, v in record.items()
                             if k != "scenario" and _plain(v) is not None})
    return rows


def _plain(v):
    """A JSON number, or None for non-numeric cells."""
    if isinstance(v, bool):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def golden_path(profile: str) -> Path:
    return GOLDEN_DIR / f"{profile}.json"


def write_golden(profile: str) -> Path:
    spec = case(profile)
    data = {"profile": profile, "seeds": list(SEEDS), "scenario": spec,
            "note": "regenerate only deliberately: python tests/test_golden.py --update "
                    f"{profile} (and say why in the commit message)",
            "rows": compute(profile, spec)}
    path = golden_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n",
                    encoding="utf-8")
    return path


def differences(expected: list[dict], actual: list[dict]) -> list[str]:
    """What differs, one line per cell (seed, year, column: golden -> now)."""
    out = []
    index = {(r["seed"], r["year"]): r for r in actual}
    for row in expected:
        key = (row["seed"], row["year"])
        now = index.get(key)
        if now is None:
            out.append(f"seed {key[0]} year {key[1]}: row missing")
            continue
        for col, want in row.items():
            if col not in now:
                out.append(f"seed {key[0]} year {key[1]} {col}: column missing")
            elif not math.isclose(now[col], want, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                out.append(f"seed {key[0]} year {key[1]} {col}: golden {want!r}, now {now[col]!r}")
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_results_match_the_golden_summary(profile):
    path = golden_path(profile)
    assert path.is_file(), f"{path} is missing: python tests/test_golden.py --update {profile}"
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert golden["scenario"] == case(profile), (
        "the golden case's definition changed; regenerate deliberately")
    diff = differences(golden["rows"], compute(profile))
    assert not diff, (f"{len(diff)} numbers differ from {path.name} (if the change is "
                      f"deliberate: python tests/test_golden.py --update {profile}, and say why "
                      "in the commit message):\n" + "\n".join(diff[:25]))


def test_the_comparison_catches_a_small_change_and_names_the_cell():
    """A change in the eighth significant digit fails (one household's weight in a
    region's count does); float noise far below it does not."""
    golden = [{"seed": 1, "year": 2016, "exits_people": 1234.5678901234}]
    assert differences(golden, [{"seed": 1, "year": 2016, "exits_people": 1234.5678901234}]) == []
    noise = 1234.5678901234 * (1 + 1e-12)
    assert differences(golden, [{"seed": 1, "year": 2016, "exits_people": noise}]) == []
    moved = differences(golden, [{"seed": 1, "year": 2016, "exits_people": 1234.5679901234}])
    assert moved == ["seed 1 year 2016 exits_people: golden 1234.5678901234, now 1234.5679901234"]
    assert differences(golden, [{"seed": 1, "year": 2016}]) == [
        "seed 1 year 2016 exits_people: column missing"]


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "--update":
        print(__doc__)
        raise SystemExit(2)
    chosen = args[1:] or list(PROFILES)
    for name in chosen:
        if name not in PROFILES:
            raise SystemExit(f"unknown profile {name!r} (golden profiles: {', '.join(PROFILES)})")
        print(f"wrote {write_golden(name)}")
