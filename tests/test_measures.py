"""Measures on small hand-built populations with known answers, their direction of effect
under common random numbers, and their fiscal accounting."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from experiments.scenario import load_scenario
from policies import dibao, medical, medical_assistance, microcredit
from sim.measure_steps import split_payers
from sim.registry import HOUSEHOLD, STREAM_NAMES
from sim.errors import InputError
from sim.fields import COUNTY, VILLAGE, Labor, Status
from sim.model import PovertyModel
from sim.params import Parameters
from sim.streams import Streams
from sim.table import Table

SCENARIOS = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
YEAR = 2017
LINE = 3000.0


ONE_LEVEL = {"medical.factor_township": 1.0, "medical.factor_city": 1.0}  # every hospital reimburses alike


def world(rows, overrides=None, measures=None):
    params = Parameters.load().override(overrides or {}, "test")
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, insured=True, status=Status.REGISTERED)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    return SimpleNamespace(
        hh=hh, villages=Table(VILLAGE, 1), counties=Table(COUNTY, 1), p=params.year(YEAR), year=YEAR,
        line=LINE, streams=Streams(0, STREAM_NAMES), measures=measures or {}, flows={"supported": np.ones(hh.n, bool)},
        price_index=1.0)


# --- medical ------------------------------------------------------------------------

def test_out_of_pocket_cost_of_a_sick_household_at_0_and_70_percent_assistance():
    cost = 20000.0
    m = world([dict(medical_cost=cost)], ONE_LEVEL)
    p = m.p
    compliant = cost * (1 - p["medical.noncompliant_share"])
    left = compliant * (1 - p["medical.reimbursement"])  # below the critical-illness deductible
    medical.act(m, True)
    assert m.hh.oop_medical[0] == pytest.approx(cost - compliant * p["medical.reimbursement"], rel=1e-6)
    for share in (0.0, 0.7):
        m = world([dict(medical_cost=cost)], {"medical.assistance_share": share, **ONE_LEVEL},
                  {"medical_insurance": True})
        medical.act(m, True)
        costs = medical_assistance.act(m, True)
        expected = cost - compliant * p["medical.reimbursement"] - share * left
        assert m.hh.oop_medical[0] == pytest.approx(expected, rel=1e-6)
        premium = 2 * p["medical.premium"]
        assert costs["fiscal"] == pytest.approx(premium + share * left, rel=1e-6)


def test_critical_illness_insurance_and_the_out_of_pocket_cap():
    cost = 100000.0
    m = world([dict(medical_cost=cost)], {"medical.oop_cap": 5000, **ONE_LEVEL})
    p = m.p
    reimbursed, left = medical.cover(m, np.array([cost]))
    basic_left = cost * (1 - p["medical.noncompliant_share"]) * (1 - p["medical.reimbursement"])
    critical = (basic_left - p["medical.critical_deductible"]) * p["medical.critical_share"]
    assert left[0] == pytest.approx(basic_left - critical)
    medical.act(m, True)
    medical_assistance.act(m, True)
    assert m.hh.oop_medical[0] == pytest.approx(5000)


def test_premiums_paid_for_the_poor_insure_them_for_the_year():
    m = world([dict(medical_cost=5000.0, insured=False), dict(medical_cost=5000.0, insured=False,
                                                               status=Status.NEVER)])
    m.flows["supported"] = np.array([True, False])
    medical.act(m, True)
    assert m.hh.oop_medical.tolist() == [5000.0, 5000.0]
    medical_assistance.act(m, True)
    assert m.hh.insured.tolist() == [True, False]
    assert m.hh.oop_medical[0] < 5000.0 and m.hh.oop_medical[1] == 5000.0


def test_reimbursement_depends_on_the_level_of_care():
    cost = 10000.0
    oop = {}
    for level, shares in (("township", {"medical.share_township": 1.0, "medical.share_city": 0.0}),
                          ("county", {"medical.share_township": 0.0, "medical.share_city": 0.0}),
                          ("city", {"medical.share_township": 0.0, "medical.share_city": 1.0})):
        m = world([dict(medical_cost=cost)], shares)
        medical.act(m, True)
        oop[level] = float(m.hh.oop_medical[0])
    assert oop["township"] < oop["county"] < oop["city"]
    p = m.p
    assert oop["county"] == pytest.approx(cost - cost * (1 - p["medical.noncompliant_share"]) * p["medical.reimbursement"])


# --- dibao --------------------------------------------------------------------------

def test_dibao_tops_up_to_the_line_for_households_without_labor():
    rows = [dict(labor=Labor.PARTIAL, income_farm=1000.0, n_working=1, n_elderly=1),  # eligible
            dict(labor=Labor.FULL, income_farm=1000.0),                                # labor: not eligible
            dict(labor=Labor.PARTIAL, income_farm=20000.0)]                            # above the line
    m = world(rows, {"dibao.exclusion_error": 0.0, "dibao.inclusion_error": 0.0, "dibao.extra_share": 0.0})
    line = dibao.dibao_line(m.p)
    costs = dibao.act(m, True)
    assert m.hh.income_farm[0] + m.hh.income_transfers[0] == pytest.approx(line * 2)  # up to the line
    assert m.hh.transfer_dibao.tolist()[1:] == [0.0, 0.0]
    assert costs["fiscal"] == pytest.approx(float(m.hh.transfer_dibao.sum()))


def test_dibao_extras_two_lines_in_one_and_centralized_support():
    rows = [dict(labor=Labor.PARTIAL, n_working=1, n_elderly=1, n_disabled=1),
            dict(labor=Labor.NONE, n_working=0, n_elderly=2)]  # 特困: no labor, no working-age member
    over = {"dibao.exclusion_error": 0.0, "dibao.extra_share": 0.2, "dibao.share_of_elderly_over_70": 1.0,
            "dibao.two_lines_in_one": True, "dibao.line": 2000, "poverty.line": 3000}
    m = world(rows, over)
    assert dibao.dibao_line(m.p) == 3000  # two lines in one
    dibao.act(m, True)
    assert m.hh.transfer_dibao[0] == pytest.approx(3000 * 2 + 0.2 * 3000 * 2)  # elderly + disabled
    assert m.hh.transfer_dibao[1] == pytest.approx(1.3 * 3000 * 2 + 0.2 * 3000 * 2)


# --- microcredit --------------------------------------------------------------------

def _lender(rows, overrides=None):
    over = {"microcredit.takeup_base": 1.0, "microcredit.project_return_sd": 0.0,
            "microcredit.project_return_mean": 0.0, "microcredit.interest_subsidy_share": 1.0}
    over.update(overrides or {})
    return world(rows, over, {"microcredit": True})


def _year(m):
    m.hh.obligations = 0.0
    m.hh.income_farm = m.hh.income_farm * 0 + m.base_income
    costs = microcredit.act(m, True)
    m.year += 1
    return costs


def test_a_loan_repaid_at_maturity_from_its_project():
    m = _lender([dict(motivation=0.5, risk_aversion=0.5)])
    m.base_income = 2 * LINE  # nothing above the line to repay from
    _year(m)
    assert m.flows["microcredit_made"][0] and m.hh.loan_principal[0] == 40000
    assert m.hh.loan_term_left[0] == 2 and m.hh.obligations[0] == 0  # interest fully subsidized
    _year(m)
    assert m.hh.loan_principal[0] == 40000 and not m.flows["microcredit_made"][0]
    costs = _year(m)  # maturity: the project's capital repays the principal
    assert m.hh.loan_principal[0] == 0 and m.hh.loan_arrears[0] == 0 and not m.hh.loan_defaulted[0]
    assert not m.flows["microcredit_defaults"][0] and "county" not in costs


def test_equal_installments_reduce_resources_each_year():
    m = _lender([dict()], {"microcredit.repayment": "equal", "microcredit.interest_subsidy_share": 0.0})
    m.base_income = 2 * LINE + 30000.0
    _year(m)
    due = 40000 / 3 + 0.0435 * 40000
    assert m.hh.obligations[0] == pytest.approx(due, rel=1e-5)
    assert m.hh.loan_principal[0] == pytest.approx(40000 * 2 / 3, rel=1e-6)


def test_a_failed_project_defaults_and_the_risk_fund_pays():
    m = _lender([dict()], {"microcredit.project_return_mean": -1.0, "microcredit.max_extensions": 0,
                           "microcredit.insured_loss_share": 0.0})  # an uninsured project, lost in full
    m.base_income = 0.0
    for _ in range(2):
        _year(m)
        assert not m.flows["microcredit_defaults"][0]
    costs = _year(m)
    assert m.flows["microcredit_defaults"][0] and m.hh.loan_defaulted[0]
    assert costs["county"] == pytest.approx(0.8 * 40000)
    assert m.hh.loan_principal[0] == 0
    _year(m)
    assert not m.flows["microcredit_made"][0]  # no new loan after a default


# --- validation ---------------------------------------------------------------------

def _scenario(tmp_path, overrides):
    f = tmp_path / "s.toml"
    f.write_text('profile = "shangluo"\nend_year = 2018\n[overrides]\n' + overrides)
    return f


def test_loan_terms_over_the_legal_limit_and_payer_shares_are_refused(tmp_path):
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, '"microcredit.term" = 5\n'))
    assert err.value.path == "overrides.microcredit.term" and "legal limit" in err.value.message
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, '"microcredit.amount" = 80000\n'))
    assert "microcredit.max_amount" in err.value.message
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, '"finance.share_central" = 0.9\n'))
    assert "add up to" in err.value.message


def test_shangluo_variants_differ_only_in_what_their_names_say():
    base = load_scenario(SCENARIOS / "shangluo.toml").resolved()
    expected = {
        "shangluo_medical_0": {"parameters.medical.assistance_share"},
        "shangluo_medical_50": {"parameters.medical.assistance_share"},
        "shangluo_medical_70": set(),
        "shangluo_medical_90": {"parameters.medical.assistance_share"},
        "shangluo_no_microcredit": {"measures.microcredit"},
        "shangluo_no_dibao": {"measures.dibao"},
        "shangluo_no_relocation": {"measures.relocation"},
        "shangluo_cut_at_exit": {"parameters.exit.support_years_after_exit"},
        "shangluo_keep_3y": {"parameters.exit.support_years_after_exit"},
        "shangluo_strict_verification": {"parameters.exit.verification_rate"},
        "shangluo_target_pressure": {"parameters.exit.target_pressure"},
        "shangluo_no_deadline": {"parameters.exit.plan_rule"},
    }
    for name, keys in expected.items():
        other = load_scenario(SCENARIOS / f"{name}.toml").resolved()
        diff = {f"{section}.{k}" for section in ("measures", "parameters")
                for k in set(base[section]) | set(other[section]) if base[section].get(k) != other[section].get(k)}
        assert diff == keys, name
        assert {k for k in base if k not in ("scenario", "measures", "parameters") and base[k] != other[k]} == set()


# --- direction of effects under common random numbers -------------------------------

def _run(name, seed, n=3000):
    s = load_scenario(SCENARIOS / f"{name}.toml", households=n)
    return PovertyModel(rng=seed, **s.model_kwargs()).run()


SEEDS = (1, 2, 3)


def test_more_medical_assistance_means_less_debt_not_a_different_register():
    """More assistance cuts out-of-pocket costs and so the informal debt illness leaves;
    the register measures income, which medical costs do not lower, so exits are the same
    (medical costs act through savings and debt, and through return monitoring)."""
    def totals(name):
        oop = debt = exits = 0.0
        for seed in SEEDS:
            s = load_scenario(SCENARIOS / f"{name}.toml", households=3000)
            m = PovertyModel(rng=seed, **s.model_kwargs())
            df = m.run()
            oop += df["oop_medical_total"].sum()
            exits += df["exits_people"].iloc[:-1].sum()  # before monitoring begins (2020)
            debt += float((m.hh.weight * m.hh.debt).sum())
        return oop, debt, exits
    oop_0, debt_0, exits_0 = totals("shangluo_medical_0")
    oop_90, debt_90, exits_90 = totals("shangluo_medical_90")
    assert oop_90 < oop_0
    assert debt_90 < debt_0
    assert exits_90 == pytest.approx(exits_0, rel=1e-9)


def test_without_dibao_households_without_labor_stay_poor():
    with_floor = sum(_run("shangluo", s)["no_labor_registered_people"].iloc[-1] for s in SEEDS)
    without = sum(_run("shangluo_no_dibao", s)["no_labor_registered_people"].iloc[-1] for s in SEEDS)
    assert without > 1.2 * with_floor


def _labor_capable_exits(name, seed, n=3000):
    s = load_scenario(SCENARIOS / f"{name}.toml", households=n)
    m = PovertyModel(rng=seed, **s.model_kwargs())
    exits = defaults = 0.0
    while m.running:
        m.step()
        capable = m.hh.labor != Labor.NONE
        exits += float(np.dot(m.hh.weight * m.hh.size, m.flows["exited"] & capable))
        defaults += m.current["microcredit_defaults"]
    return exits, defaults


def test_microcredit_brings_more_exits_among_labor_capable_households_with_some_defaults():
    on = [_labor_capable_exits("shangluo", s) for s in SEEDS]
    off = [_labor_capable_exits("shangluo_no_microcredit", s) for s in SEEDS]
    assert sum(e for e, _ in on) > sum(e for e, _ in off)
    assert sum(d for _, d in on) > 0 and sum(d for _, d in off) == 0


# --- fiscal accounting --------------------------------------------------------------

def test_fiscal_costs_equal_what_households_received_and_payers_add_up():
    s = load_scenario(SCENARIOS / "guangdong.toml", households=2000)
    m = PovertyModel(rng=4, **s.model_kwargs())
    while m.running:
        m.step()
        row = m.current
        received = float(np.dot(m.hh.weight, m.hh.transfer_dibao))
        assert row["fiscal_cost_dibao"] == pytest.approx(received, rel=1e-6)
        payers = sum(row[f"fiscal_cost_payer_{p}"] for p in ("central", "province", "city", "county", "insurance_fund"))
        assert payers == pytest.approx(row["fiscal_cost_total"], rel=1e-9)
        fiscal = row["fiscal_cost_dibao"]  # dibao is all fiscal: Guangdong's 6 : 3 : 1
        assert m.costs["dibao"]["province"] == pytest.approx(0.6 * fiscal)
        assert m.costs["dibao"]["city"] == pytest.approx(0.3 * fiscal)
        assert m.costs["dibao"]["central"] == 0.0


def test_split_payers_shares_fiscal_costs_by_level():
    m = world([dict()])
    out = split_payers(m, {"fiscal": 100.0, "insurance_fund": 7.0, "county": 3.0})
    assert sum(out.values()) == pytest.approx(110.0)
    assert out["central"] == pytest.approx(100 * m.p["finance.share_central"])
    assert out["insurance_fund"] == 7.0 and out["county"] == pytest.approx(3.0 + 100 * m.p["finance.share_county"])


def _fallen_back(name, seed, n=3000, end_year=2021):
    """[households measured below the line at the assessment after their exit, exits]
    for exits certified under pressure and for exits that qualified."""
    s = load_scenario(SCENARIOS / f"{name}.toml", households=n)
    m = PovertyModel(rng=seed, **{**s.model_kwargs(), "end_year": end_year})
    pressed, qualified = np.zeros(m.hh.n, bool), np.zeros(m.hh.n, bool)
    counts = np.zeros((2, 2))
    while m.running:
        last = (pressed, qualified)
        m.step()
        below = m.hh.measured_pc < m.line
        for k, exited in enumerate(last):
            counts[k] += ((exited & below).sum(), exited.sum())
        pressed = m.flows["exits_under_pressure"].copy()
        qualified = m.flows["exited"] & ~pressed
    return counts


def test_target_pressure_and_early_withdrawal_show_up_as_returns():
    """Households certified under pressure were below the threshold: at the next assessment
    far more of them are measured below the line again than of those that qualified (they
    return only through monitoring and the adjustment); withdrawing support at exit brings
    more returns than keeping it three years; verification reverses more exits when
    stricter."""
    def total(name, column):
        return sum(_run(name, s)[column].sum() for s in SEEDS)
    assert total("shangluo_target_pressure", "exits_under_pressure_people") > 0
    counts = sum(_fallen_back("shangluo_target_pressure", s) for s in SEEDS)
    pressed, qualified = counts[:, 0] / counts[:, 1]
    assert counts[0, 1] > 20 and pressed > 2 * qualified
    assert total("shangluo_cut_at_exit", "returns_people") > total("shangluo_keep_3y", "returns_people")
    assert total("shangluo_strict_verification", "exits_reversed_people") > total("shangluo", "exits_reversed_people")


def test_people_ever_reached_count_households_once_over_the_run():
    """Plans total the distinct people a measure served over years: `ever_reached_people_*`
    never falls below a year's reach nor decreases (bar deaths), and relocation, which
    reaches a household once, gives exactly the relocated people."""
    from sim.registry import MEASURES
    from sim.model import PovertyModel

    ts = PovertyModel("shangluo", households=3000, end_year=2019, rng=8,
                      measures=dict.fromkeys(MEASURES, True)).run()
    for name in ("education", "dibao", "medical_assistance", "relocation"):
        ever, year = ts[f"ever_reached_people_{name}"], ts[f"reached_people_{name}"]
        assert (ever >= year - 1e-6).all(), name
        assert ever.iloc[-1] >= 0.95 * ever.max(), name
    assert np.allclose(ts["ever_reached_people_relocation"], ts["relocated_people"], rtol=1e-9)
    assert (ts["batch_ever_people_education"] >= ts["ever_reached_people_education"] - 1e-6).all()
    assert ts["ever_reached_people_dibao"].iloc[-1] > ts["reached_people_dibao"].iloc[-1]
