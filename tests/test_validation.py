"""The national scenario, the pattern-check metric columns and the validation report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments import validation as val
from experiments.cli import main as povsim
from experiments.scenario import load_scenario
from sim import metrics
from sim.fields import Cause, Status

REPO = Path(__file__).resolve().parent.parent
NATIONAL = REPO / "experiments" / "scenarios" / "national.toml"


# ---------------------------------------------------------------------------------------
# metric columns on hand-built households


def test_main_cause_and_group_incomes_on_hand_built_households():
    from sim.model import PovertyModel

    model = PovertyModel("shangluo", households=40, end_year=2016, rng=1)
    hh = model.hh
    n = hh.n
    # every row empty except four: the right answers are known by hand
    hh.size[:] = 0
    hh.weight[:] = 1.0
    hh.status[:] = int(Status.NEVER)
    hh.causes[:] = 0
    hh.relocated[:] = False
    hh.loan_year[:] = 0
    hh.income[:] = 0.0
    rows = {
        # registered, illness and skills: main cause illness
        0: dict(weight=2.0, size=3, status=Status.REGISTERED, causes=Cause.ILLNESS | Cause.SKILLS, income=3000.0),
        # returned, skills and capital: main cause skills (comes first in the official order)
        1: dict(weight=1.0, size=2, status=Status.RETURNED, causes=Cause.CAPITAL | Cause.SKILLS, income=2000.0,
                relocated=True),
        # registered, no diagnosed cause
        2: dict(weight=1.0, size=4, status=Status.REGISTERED, causes=0, income=4000.0, loan_year=2016),
        # exited, relocated, borrowed: counts in the groups, not in the register
        3: dict(weight=3.0, size=1, status=Status.EXITED, causes=0, income=9000.0, relocated=True, loan_year=2015),
    }
    for i, r in rows.items():
        hh.weight[i] = r["weight"]
        hh.size[i] = r["size"]
        hh.status[i] = int(r["status"])
        hh.causes[i] = int(r["causes"])
        hh.income[i] = r["income"]
        hh.relocated[i] = r.get("relocated", False)
        hh.loan_year[i] = r.get("loan_year", 0)
    empty = np.zeros(n, bool)
    model.flows.update(exited=empty, returned=empty, new_poor=empty, births=np.zeros(n, np.int8),
                       deaths=np.zeros(n, np.int8))
    m = metrics.compute(model, {})

    assert m["registered_poor_people"] == 6 + 2 + 4
    assert m["registered_poor_people_cause_illness"] == 6
    assert m["registered_poor_people_cause_skills"] == 2
    assert m["registered_poor_people_cause_capital"] == 0       # a cause, but not the main one
    assert m["poor_people_cause_capital"] == 2                  # the multi-select column still counts it
    assert m["registered_poor_people_cause_none"] == 4
    mains = sum(m[f"registered_poor_people_cause_{c.name.lower()}"] for c in Cause)
    assert mains + m["registered_poor_people_cause_none"] == m["registered_poor_people"]
    # groups: income per person = weighted income / weighted people
    assert m["ever_registered_people"] == 6 + 2 + 4 + 3
    assert m["mean_income_ever_registered"] == pytest.approx((2 * 3000 + 2000 + 4000 + 3 * 9000) / 15)
    assert m["mean_income_relocated"] == pytest.approx((2000 + 3 * 9000) / (2 + 3))
    assert m["mean_income_microcredit"] == pytest.approx((4000 + 3 * 9000) / (4 + 3))
    assert m["microcredit_ever_households"] == 1 + 3
    assert set(m) == set(metrics.COLUMNS)


# ---------------------------------------------------------------------------------------
# the national scenario


def test_national_scenario_checks_and_runs_two_years_with_its_roll_out(capsys):
    assert povsim(["check", str(NATIONAL)]) == 0
    assert "scenario national, profile national, years 2014-2020" in capsys.readouterr().out
    # the national figures it is checked against, and the calibrated file the report uses
    assert povsim(["check", str(REPO / "experiments" / "national_checks.toml")]) == 0
    assert povsim(["check", str(REPO / "docs" / "validation_calibrated.toml")]) == 0
    capsys.readouterr()

    from experiments.runner import run_one

    sc = load_scenario(NATIONAL, households=3000)
    sc.end_year = 2015
    df = run_one(sc, 7).set_index("year")
    assert list(df.index) == [2014, 2015]
    # the lines of facts.md by year
    assert df.loc[2014, "poverty_line"] == 2800 and df.loc[2015, "poverty_line"] == 2855
    assert sc.params.at("dibao.line", 2014) == 2777 and sc.params.at("dibao.line", 2020) == 5962
    # relocation starts in 2016; microcredit goes to scale in 2015
    assert (df["relocated_people"] == 0).all()
    assert df.loc[2015, "microcredit_loans_made"] > 3 * df.loc[2014, "microcredit_loans_made"]
    # the 2014 register of 89.62 M people, represented by weighted rows
    assert df.loc[2014, "registered_poor_people"] + df.loc[2014, "exits_people"] == pytest.approx(89.62e6, rel=0.02)
    shares = df.filter(like="registered_poor_people_cause_").sum(axis=1)
    assert np.allclose(shares, df["registered_poor_people"])


def _calibrated_file(tmp_path, extra: str = "") -> Path:
    body = (REPO / "experiments" / "scenarios" / "shangluo.toml").read_text(encoding="utf-8")
    body = body.replace('"exit.verification_rate" = 0.05',
                        '"exit.verification_rate" = 0.05\n"microcredit.takeup_base" = 0.3\n'
                        '"economy.income_shock_sd" = 0.2' + extra)
    path = tmp_path / "calibrated.toml"
    path.write_text(body.replace('profile = "shangluo"', f'profile = "{REPO / "sim/profiles/shangluo.toml"}"'),
                    encoding="utf-8")
    return path


def test_calibrated_values_carry_over_and_national_keeps_its_roll_out(tmp_path):
    cal = val.read_calibration(str(_calibrated_file(tmp_path)))
    # only the free parameters travel; Shangluo's own settings (two lines in one, ...) do not
    assert cal.values == {"microcredit.takeup_base": 0.3, "economy.income_shock_sd": 0.2,
                          "exit.target_pressure": 0.0}

    guangdong = val.apply_calibration(load_scenario(REPO / "experiments/scenarios/guangdong.toml"), cal, "g")
    assert guangdong.params.at("microcredit.takeup_base", 2016) == 0.3
    assert guangdong.params.at("dibao.two_lines_in_one", 2016) is False

    national = val.apply_calibration(load_scenario(NATIONAL), cal, "n", rollout=True)
    assert national.params.at("microcredit.takeup_base", 2014) == 0.0      # the roll-out is kept
    assert national.params.at("microcredit.takeup_base", 2015) == 0.3      # the full scale is calibrated
    assert national.params.at("economy.income_shock_sd", 2014) == 0.2
    assert any("takeup_base" in line for line in val.national_kept(load_scenario(NATIONAL), cal))


# ---------------------------------------------------------------------------------------
# the report


def test_report_runs_on_a_tiny_population_and_reloads_stored_runs(tmp_path, capsys):
    out, runs = tmp_path / "docs", tmp_path / "runs"
    args = ["--households", "120", "--seeds", "2", "--executor", "serial", "--out", str(out), "--runs", str(runs)]
    assert val.main(args) == 0
    text = (out / "validation.md").read_text(encoding="utf-8")
    for section in ("# Validation", "**Not calibrated.**", "## 1. Calibration region: Shangluo",
                    "## 2. Out of sample", "### Guangdong", "### Guangyuan", "### Nanning",
                    "## 3. National, 2014-2020, out of sample", "## 4. Pattern checks",
                    "### 4.1 Composition of the registered poor by cause", "### 4.2 Returns relative to exits",
                    "### 4.3 Income paths", "## 5. What fits, what does not, and why"):
        assert section in text, section
    # every target of Shangluo's target file is in the table with its verdict
    assert "| `exits_people` | 2016 | 133,000 | ± 25%" in text
    assert "`relocated_people`" in text and "`microcredit_ever_households`" in text
    for name in val.FIGURES:
        assert (out / "figures" / name).stat().st_size > 10_000
        assert f"figures/{name}" in text or name == "validation_fit.png"
    manifest = json.loads((runs / "manifest.json").read_text())
    assert manifest["runs"] == {"done": 10, "failed": 0, "skipped": 0}

    # a second call loads the stored runs instead of running them again
    assert val.main(args) == 0
    manifest = json.loads((runs / "manifest.json").read_text())
    assert manifest["runs"] == {"done": 0, "failed": 0, "skipped": 10}


@pytest.mark.parametrize("args, expect", [
    (["--calibrated", "nope.toml"], "nope.toml: no such calibrated scenario file"),
    (["--seeds", "0"], "command line: --seeds: expected a positive number"),
    (["--calibrated", str(REPO / "experiments/scenarios/guangdong.toml")], "is not the calibration region"),
])
def test_bad_input_is_exit_2_and_writes_nothing(tmp_path, capsys, args, expect):
    out = tmp_path / "docs"
    assert val.main([*args, "--out", str(out), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert expect in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_report_loss_is_the_calibration_loss():
    """The loss the report prints for Shangluo is the one `povsim calibrate` minimises."""
    import pandas as pd

    from experiments import targets

    rows = []
    for seed, scale in ((1, 0.8), (2, 1.3)):
        for k, year in enumerate(range(2016, 2021)):
            rows.append({"seed": seed, "year": year, "exits_people": scale * (150_000 - 20_000 * k),
                         "villages_exited": scale * 100, "relocated_people": scale * 50_000 * (k + 1)})
    frame = pd.DataFrame(rows)
    _, mine = val.load_region("shangluo", 100)
    theirs = targets.load_targets(REPO / "experiments" / "targets" / "shangluo.toml", households=100)
    assert val.loss(frame, mine) == pytest.approx(targets.loss(frame, theirs), rel=1e-12)


def test_profile_targets_stand_in_for_a_missing_target_file():
    """A region without a target file is checked against its profile's [targets]: minimums
    stay minimums, village exits become `villages_exited`."""
    scenario, targets = val._from_profile("guangyuan", 100)
    by_name = {t.name: t for t in targets}
    assert scenario.name == "guangyuan"
    assert by_name["exits_people"].values == (60000.0,) * 5 and by_name["exits_people"].relation == "at_least"
    assert by_name["villages_exited"].years == (2015, 2016, 2017, 2018, 2019)
    _, shangluo = val._from_profile("shangluo", 100)
    relocation = {t.name: t for t in shangluo}["relocated_people"]
    assert relocation.years == (2020,) and relocation.values == (261200.0,) and relocation.relation == "equal"
