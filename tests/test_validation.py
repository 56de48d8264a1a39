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
    # the 2014 register of 89.62 M people, represented by weighted rows: as built, before the
    # year's first adjustment added new entries
    built = df.loc[2014, "registered_poor_people"] + df.loc[2014, "exits_people"] - df.loc[2014, "new_poor_people"]
    assert built == pytest.approx(89.62e6, rel=0.02)
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
    for section in ("# Validation", "**Not calibrated.**", "## Summary", "## 1. Calibration region: Shangluo",
                    "## 2. Out of sample", "### Guangdong", "### Guangyuan", "### Nanning",
                    "## 3. National, 2014-2020, out of sample", "## 4. The register as an administrative process",
                    "### 4.1 Year by year", "### 4.2 Without the deadline", "### 4.3 Exit routes by batch",
                    "## 5. The judged figures", "### 5.1 What (b) and (d) hinge on", "## 6. Pattern checks",
                    "### 6.1 Composition of the registered poor by cause", "### 6.2 Returns relative to exits",
                    "### 6.3 Income paths", "## 7. What fits, what does not, and why", "## 8. Reproduce"):
        assert section in text, section
    # the judged figures, each with a verdict, in the summary
    summary = text.split("## Summary")[1].split("## 1.")[0]
    for key in "abcde":
        line = next(x for x in summary.splitlines() if x.startswith(f"- ({key}) "))
        assert any(w in line for w in (": met.", ": **not met**.", ": cannot be judged.")), line
    # (a) again with five times the rows: its own count of targets met, and its table in section 1
    assert any(x.startswith("- (a) with ") and "target values met" in x for x in summary.splitlines())
    assert "The same parameters with " in text.split("## 1.")[1].split("## 2.")[0]
    # every target of Shangluo's target file is in the table with its verdict
    assert "| `exits_people` | 2016 | 133,000 | ± 25%" in text
    assert "`relocated_people`" in text and "`cumulative_exit_route_people_dibao`" in text
    # the national checks include the re-check; the end-2020 register is judged in the text
    assert "| `recheck_added_people` | 2015 | 8.07 M | ± 50%" in text
    assert "| `recheck_removed_people` | 2015 | 9.29 M | ± 50%" in text
    assert "Everyone out by the end of 2020" in text
    # the register table of every scenario and of both no-deadline variants
    for name in ("shangluo", "guangdong", "guangyuan", "nanning", "national", "national (no deadline)",
                 "shangluo (no deadline)"):
        assert f"**{name}** (people, " in text, name
    # no parameter that no longer exists, no leftover of the old register
    assert "rollover" not in text and "resources above" not in text
    for name in val.FIGURES:
        assert (out / "figures" / name).stat().st_size > 10_000
        assert f"figures/{name}" in text or name == "validation_fit.png"
    manifest = json.loads((runs / "manifest.json").read_text())
    assert manifest["runs"] == {"done": 40, "failed": 0, "skipped": 0}

    # a second call loads the stored runs instead of running them again
    assert val.main(args) == 0
    manifest = json.loads((runs / "manifest.json").read_text())
    assert manifest["runs"] == {"done": 0, "failed": 0, "skipped": 40}


def test_no_deadline_variant_is_the_same_scenario_without_a_plan(tmp_path):
    """The national and Shangluo scenarios are run again with exit.plan_rule = "qualifying",
    with everything else (calibrated values, seeds, households) as in the scenario."""
    p = val.plan(val.Calibration(None, {}, ""), 100, 2)
    roles = {name: role for name, _, _, role in p.runs}
    for name in ("national", "shangluo"):
        base, variant = p.scenario(name), p.scenario(name + val.NO_DEADLINE_SUFFIX)
        assert roles[name + val.NO_DEADLINE_SUFFIX] == "no deadline"
        assert base.params.at("exit.plan_rule", 2018) == "plan"
        assert variant.params.at("exit.plan_rule", 2018) == "qualifying"
        assert variant.households == base.households == 100
        assert (variant.start_year, variant.end_year) == (base.start_year, base.end_year)
        assert variant.config_hash() != base.config_hash()
    assert roles["guangdong"] == "out of sample" and "guangdong" + val.NO_DEADLINE_SUFFIX not in roles
    # the calibration region again with five times the rows, the same parameters otherwise
    big = p.scenario("shangluo (500 rows)")
    assert roles["shangluo (500 rows)"] == "rows check" and big.households == 500
    assert big.params.resolved(2016, 2020) == p.scenario("shangluo").params.resolved(2016, 2020)

    # with a calibration, the variant carries the calibrated values (and the national roll-out)
    cal = val.read_calibration(str(_calibrated_file(tmp_path)))
    p = val.plan(cal, 100, 2)
    variant = p.scenario("national" + val.NO_DEADLINE_SUFFIX)
    assert variant.params.at("microcredit.takeup_base", 2014) == 0.0
    assert variant.params.at("microcredit.takeup_base", 2016) == 0.3
    assert p.scenario("shangluo" + val.NO_DEADLINE_SUFFIX).params.at("economy.income_shock_sd", 2016) == 0.2


def test_sensitivity_runs_scale_one_assumption_each_on_every_region(tmp_path):
    """Section 5.1's runs: each region with one unpinned assumption halved, the calibrated
    values and everything else as in the region's own run."""
    cal = val.read_calibration(str(_calibrated_file(tmp_path)))
    p = val.plan(cal, 100, 2)
    roles = {name: role for name, _, _, role in p.runs}
    for region in ("shangluo", "guangdong", "guangyuan", "nanning"):
        base = p.scenario(region)
        start, end = base.start_year, base.end_year
        for path, _ in val.SENSITIVITY:
            name = val.sensitivity_name(region, path)
            assert roles[name] == "sensitivity" and name.startswith(region) and path in name
            variant = p.scenario(name)
            assert variant.params.at(path, start) == pytest.approx(0.5 * base.params.at(path, start))
            others = {k: v for k, v in base.params.resolved(start, end).items() if k != path}
            assert {k: v for k, v in variant.params.resolved(start, end).items() if k != path} == others
            assert variant.households == base.households
    assert p.scenario(val.sensitivity_name("shangluo", "economy.income_shock_sd")).params.at(
        "economy.income_shock_sd", 2016) == pytest.approx(0.1)  # the calibrated 0.2, halved
    assert not any(role == "sensitivity" and name.startswith("national") for name, role in roles.items())


def test_every_parameter_the_report_reads_exists():
    """Each `_par(...)` / `params.at(...)` name in the report's code is a parameter of the model."""
    import inspect
    import re

    from sim.params import Parameters

    source = inspect.getsource(val)
    names = set(re.findall(r"""(?:par|_par\(scen\[[A-Z_]+\]|params\.at)\(\s*['"]([a-z_]+\.[a-z_0-9]+)['"]""", source))
    names |= set(re.findall(r"""_par\([^,]+,\s*['"]([a-z_]+\.[a-z_0-9]+)['"]""", source))
    assert {"microcredit.project_return_mean", "register.recheck_correction", "monitoring.scale"} <= names
    # and every parameter the prose names in backticks (profile paths apart)
    profile_paths = {"exit.deadline", "exit.reference_income", "exit.schedule_people", "register.people"}
    names |= set(re.findall(r"`([a-z_]+\.[a-z_0-9]+)`", source)) - profile_paths
    names = {n for n in names if not n.endswith((".toml", ".md", ".png", ".py"))}
    assert {"economy.income_growth", "exit.support_years_after_exit"} <= names
    params = Parameters.load()
    for name in sorted(names):
        params.spec(name)  # raises KeyError for a parameter that does not exist
    assert "rollover_share" not in source


# ---------------------------------------------------------------------------------------
# the judged figures, on hand-made runs whose verdicts are known


def _frame(years, seeds=(1, 2), **columns):
    """Runs whose means over the two seeds are the given yearly values (seed 1 at 0.9 times
    them, seed 2 at 1.1 times)."""
    import pandas as pd

    rows = []
    for seed, scale in zip(seeds, (0.9, 1.1)):
        for k, year in enumerate(years):
            row = {"scenario": "x", "seed": seed, "year": year}
            row.update({c: scale * float(v[k]) for c, v in columns.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def _national(registered_end=4.0):
    # people in millions; 90 registered at the start (80 left at the end of 2014 + 10 exits)
    return _frame(range(2014, 2021),
                  exits_people=[10] * 7,
                  start_cohort_exits_people=[10] * 7,
                  returns_people=[0, 0.8, 0.5, 0.4, 0.3, 0.2, 0],           # 8%, 5%, 4% | 3%, 2% | 0 (monitoring)
                  new_poor_people=[0.5, 9.0, 1.5, 1.0, 1.0, 0.5, 0],         # 2015: 1.0 after the re-check's 8.0
                  recheck_added_people=[0, 8.0, 0, 0, 0, 0, 0],
                  recheck_removed_people=[0, 9.0, 0, 0, 0, 0, 0],
                  microcredit_loans_made=[1] * 7,
                  microcredit_defaults=[0, 0, 0, 0.01, 0.02, 0.02, 0],        # 0.05 of 7: 0.7%
                  microcredit_extensions=[0] * 7,
                  registered_poor_people=[80, 70, 60, 40, 20, 10, registered_end],
                  start_cohort_registered_people=[80, 60, 50, 30, 15, 8, 3.0])


def _shangluo():
    # thousands; returns jump in 2019 (12% of exits), defaults 4% of loans
    return _frame(range(2016, 2021),
                  exits_people=[100] * 5,
                  start_cohort_exits_people=[100] * 5,
                  returns_people=[0, 1, 2, 12, 0],
                  new_poor_people=[5, 5, 5, 5, 0],
                  recheck_added_people=[0] * 5,
                  recheck_removed_people=[0] * 5,
                  microcredit_loans_made=[10] * 5,
                  microcredit_defaults=[0, 0, 1, 1, 0],
                  microcredit_extensions=[0] * 5,
                  registered_poor_people=[400, 300, 200, 100, 20],
                  start_cohort_registered_people=[400, 300, 200, 100, 20])


def _fit_table(met: int, n: int = 14):
    import pandas as pd
    return pd.DataFrame({"within": [True] * met + [False] * (n - met)})


def test_judged_figures_on_hand_made_runs():
    frames = {"shangluo": _shangluo(), "national": _national()}
    judged = {j.key: j for j in val.judged_figures(frames, _fit_table(10),
                                                   open_until={"shangluo": 2020, "national": 2020})}
    # (a) 10 of 14 is enough, 9 is not
    assert judged["a"].met is True and "10 of 14" in judged["a"].detail
    assert val.judged_figures(frames, _fit_table(9))[0].met is False
    # (b) national: under 10% every year, 2018-2019 pooled 2.5% below the 2015 peak of 8%;
    # Shangluo: 12% in 2019, and 2019 above the 2017-2018 peak
    assert judged["b"].per == {"shangluo": False, "national": True} and judged["b"].met is False
    # (c) the re-check's 8.0 in 2015 is left out: 10% of exits, under a fifth
    assert judged["c"].per == {"shangluo": True, "national": True} and judged["c"].met is True
    # (d) national 0.7%, Shangluo 4%
    assert judged["d"].per == {"shangluo": False, "national": True} and judged["d"].met is False
    # (e) 4 and 3 of the 90 registered at the start: 4.4% and 3.3%
    assert judged["e"].met is True and "4.4%" in judged["e"].detail and "3.3%" in judged["e"].detail
    e = val.judged_figures({"national": _national(registered_end=5.0)}, _fit_table(10))[-1]
    assert e.key == "e" and e.met is False                      # 5 of 90: 5.6%


def test_returns_fall_is_read_before_monitoring_begins():
    m = val.yearly(_national())
    r = val.returns_check(m, open_until=2020)
    assert r["early"] == [2015, 2016, 2017] and r["late"] == [2018, 2019]
    assert r["peak_year"] == 2015 and r["peak"] == pytest.approx(0.08)
    assert r["late_ratio"] == pytest.approx(0.025) and r["falls"] is True and r["under"] is True
    # without the monitoring rule the last years would hold 2020's zero, which is not a fall
    r = val.returns_check(m, open_until=None)
    assert r["late"] == [2019, 2020] and r["late_ratio"] == pytest.approx(0.01)
    # too few years to judge a fall
    short = val.yearly(_frame([2016, 2017], exits_people=[10, 10], returns_people=[0, 1]))
    assert val.returns_check(short, 2020)["falls"] is None
    # no returns at all: nothing to fall from
    none = val.yearly(_frame(range(2016, 2020), exits_people=[10] * 4, returns_people=[0] * 4))
    assert val.returns_check(none, None)["falls"] is True
    # a year with returns but no exits cannot be under any share
    bad = val.yearly(_frame([2016, 2017, 2018], exits_people=[10, 0, 10], returns_people=[0, 1, 0]))
    assert val.returns_check(bad, None)["under"] is False


def test_the_count_of_returns_can_fall_while_its_ratio_to_exits_rises():
    # from the second year returns 40, 30, 20, 10 against exits 1000, 800, 300, 100: the count
    # falls by three quarters, the ratio rises from 4% to 10%
    m = val.yearly(_frame(range(2015, 2020), exits_people=[1000, 1000, 800, 300, 100],
                          returns_people=[0, 40, 30, 20, 10]))
    r = val.returns_check(m, open_until=None)
    assert r["early"] == [2016, 2017] and r["late"] == [2018, 2019]
    assert r["falls"] is False and r["late_ratio"] == pytest.approx(30 / 400)
    assert r["count_falls"] is True and r["count_peak"] == 40 and r["count_late"] == pytest.approx(15)


def test_national_returns_are_read_against_the_reported_ranges():
    m = val.yearly(_frame(range(2016, 2020), exits_people=[10e6] * 4,
                          returns_people=[650_000, 400_000, 50_000, 20_000]))
    text = "\n".join(val.national_returns_markdown(m))
    assert "| 2016 | 60多万 (600,000 – 700,000) | 650,000 | within |" in text
    assert "| 2017 | 20多万 (200,000 – 300,000) | 400,000 | above |" in text
    assert "| 2018 | 几万 (10,000 – 100,000) | 50,000 | within |" in text
    assert "| 2019 | 数千 (1,000 – 10,000) | 20,000 | above |" in text
    # reported: at least 600,000 / 10,000 = 60 times fewer; the model 650,000 / 20,000 = 32.5
    assert "at least 60 from 2016 to 2019" in text and "by a factor of 32.5." in text
    assert val.national_returns_markdown(val.yearly(_frame([2021], exits_people=[1], returns_people=[0]))) == []


def test_returns_are_read_against_those_left_below_the_line():
    capped = val.yearly(_frame([2016, 2017], returns_people=[10, 20], exited_below_line_people=[50, 90]))
    open_ = val.yearly(_frame([2016, 2017], returns_people=[10, 20], exited_below_line_people=[50, 30]))
    text = "\n".join(val.waiting_markdown({"a": capped, "b": open_}))
    assert "| a | 2016: 10 / 50, 2017: 20 / 90 |" in text and "| b | 2016: 10 / 50, 2017: 20 / 30 |" in text
    assert "In a more than twice" in text
    assert val.waiting_markdown({"a": val.yearly(_frame([2016], returns_people=[1]))}) == []


def test_register_table_and_defaults_due():
    m = val.yearly(_national())
    for column, _ in val.REGISTER_TABLE:
        if isinstance(column, str) and column not in m:
            m[column] = 0.0
    assert val.register_base(m) == pytest.approx(90.0)  # 80 + 10 exits in 2014, no removals then
    assert val._unit(90e6) == (1e6, "M") and val._unit(489_000) == (1e3, "k")
    rows = val.register_table(m, (1.0, "M"))  # the hand-made values are in millions already
    assert rows[0].startswith("| year | registered |") and len(rows) == 2 + 7 + 1
    # 2015: 70 registered, 10 exits, 0.8 returns, the re-check's 8 apart from the 1 new entry
    assert rows[3].startswith("| 2015 | 70.00 | 60.00 | 10.00 | 10.00 | 0.80 | 1.00 | 8.00 | 9.00 |")
    d = val.defaults_check(m, term=3)
    assert d["share"] == pytest.approx(0.05 / 7) and d["due_by"] == 2017
    assert d["due_share"] == pytest.approx(0.05 / 4)


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
                         "villages_exited": scale * 100, "relocated_people": scale * 50_000 * (k + 1),
                         "exit_route_batch_people_education": scale * 10_000 * (k + 1),
                         "exit_route_people_medical_assistance": scale * 15_000,
                         "exit_route_people_dibao": scale * (50_000 - 5_000 * k),
                         "exit_route_batch_people_production_employment": scale * 60_000})
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
