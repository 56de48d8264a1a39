"""Education support: schooling costs net of support for supported households, support
capped at the cost, its fiscal cost, the life pass weighing net costs, and the direction
of its effects under common random numbers."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from agents import life
from experiments.scenario import load_scenario
from policies import education
from sim.registry import HOUSEHOLD, MEASURES
from sim import accounting
from sim.fields import COUNTY, VILLAGE, Labor, Status
from sim.model import PovertyModel
from sim.params import Parameters
from sim.streams import Streams
from sim.table import Table

SCENARIOS = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
YEAR = 2017
LINE = 3000.0


def world(rows, overrides=None, measures=None, supported=None):
    params = Parameters.load().override(overrides or {}, "test")
    p = params.year(YEAR)
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, insured=True, status=Status.REGISTERED)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    if supported is None:
        supported = (hh.status == Status.REGISTERED) | (hh.status == Status.RETURNED)
    return SimpleNamespace(
        hh=hh, villages=Table(VILLAGE, 1), counties=Table(COUNTY, 1), p=p, year=YEAR, line=LINE,
        price_index=1.0, streams=Streams(0), measures=measures or {"education": True},
        school_cost=lambda stage: p[f"education.cost_{stage}"], flows={"supported": np.asarray(supported)})


def test_a_supported_household_pays_the_senior_cost_less_support_an_unsupported_one_all_of_it():
    rows = [dict(size=3, n_senior=1, income_farm=20000.0),
            dict(size=3, n_senior=1, income_farm=20000.0, status=Status.NEVER)]
    m = world(rows)
    p = m.p
    support = p["education.support_senior"] + p["education.vocational_share"] * p["education.support_yulu"]
    assert 0 < support < p["education.cost_senior"]
    costs = education.act(m, True)
    accounting.account(m)
    assert m.hh.school_support.tolist() == pytest.approx([support, 0.0])
    cost = p["education.cost_senior"]
    assert m.hh.school_cost.tolist() == pytest.approx([cost - support, cost])
    assert m.hh.resources[0] - m.hh.resources[1] == pytest.approx(support)
    assert m.flows["reached_education"].tolist() == [True, False]
    assert costs["fiscal"] == pytest.approx(support)
    # Off (or the next year not supported): support is reset and the full cost paid.
    assert education.act(m, False) == {}
    accounting.account(m)
    assert m.hh.school_support.tolist() == [0.0, 0.0]
    assert m.hh.school_cost.tolist() == pytest.approx([p["education.cost_senior"]] * 2)


def test_support_never_exceeds_the_cost_of_a_stage():
    generous = {"education.support_primary_living": 5000, "education.support_junior_living": 5000,
                "education.support_senior": 9000, "education.support_yulu": 9000,
                "education.support_college_grant": 9000, "education.support_college_loan": 20000}
    rows = [dict(size=6, n_working=3, n_primary=1, n_junior=1, n_senior=1, n_college=1)]
    for over in ({}, generous):
        m = world(rows, over)
        grants, loans = education.per_pupil(m)
        cost = np.array([m.school_cost(s) for s in education.STAGES])
        assert np.all(grants >= 0) and np.all(loans >= 0) and np.all(grants + loans <= cost)
        education.act(m, True)
        accounting.account(m)
        gross = accounting.schooling_cost(m)[0]
        assert m.hh.school_support[0] <= gross + 1e-3 and m.hh.school_cost[0] >= 0
        assert m.hh.school_cost[0] == pytest.approx(gross - m.hh.school_support[0], abs=1e-2)
    assert m.hh.school_cost[0] == pytest.approx(0.0, abs=1e-2)  # generous: everything covered
    assert loans[3] == 0  # the grants already cover college: nothing left to borrow


def test_fiscal_cost_is_the_weighted_support_with_loans_at_their_fiscal_share():
    rows = [dict(weight=10.0, size=4, n_primary=1, n_junior=1),
            dict(weight=5.0, size=4, n_working=3, n_college=1, n_senior=1),
            dict(weight=7.0, size=4, n_senior=2, status=Status.EXITED, exit_year=2010),  # not supported
            dict(weight=3.0, size=2)]  # supported, no pupils: not reached
    for share in (1.0, 0.15):
        m = world(rows, {"education.support_loan_fiscal_share": share})
        costs = education.act(m, True)
        grants, per_pupil_loans = education.per_pupil(m)
        pupils = np.stack([m.hh.n_primary, m.hh.n_junior, m.hh.n_senior, m.hh.n_college], axis=1)
        loans = np.where(m.flows["supported"], pupils @ per_pupil_loans, 0.0)
        w, support = m.hh.weight, m.hh.school_support.astype(float)
        assert support[2] == 0 and support[3] == 0 and support[0] > 0 and support[1] > 0
        assert loans[1] > 0 and loans[0] == 0
        assert m.flows["reached_education"].tolist() == [True, True, False, False]
        assert costs["fiscal"] == pytest.approx(float(np.dot(w, support - (1 - share) * loans)), rel=1e-6)
        if share == 1.0:
            assert costs["fiscal"] == pytest.approx(float(np.dot(w, support)), rel=1e-6)
    assert MEASURES["education"].batch == "education" and MEASURES["education"].entitlement


def test_the_life_pass_weighs_net_costs_for_households_supported_at_the_start_of_the_year():
    poor = dict(size=7, n_working=3, n_college=0, n_junior=2, n_senior=2, income_farm=6000.0,
                income=6000.0, resources=6000.0)
    rows = [poor] * 300 + [dict(poor, status=Status.NEVER)] * 300
    out = {}
    for on in (False, True):
        m = world(rows, measures={"education": on})
        education.announce(m)  # the plan's step before life: the support, as known at the start of the year
        life.live_year(m)
        out[on] = m.hh
    on, off = out[True], out[False]
    sup = np.arange(600) < 300
    for name in ("n_senior", "n_college", "n_dropout_compulsory", "n_dropout", "n_skilled", "size"):
        assert np.array_equal(on[name][~sup], off[name][~sup]), name  # unsupported: untouched
    assert np.all(on.n_senior[sup] >= off.n_senior[sup]) and on.n_senior.sum() > off.n_senior.sum()
    assert np.all(on.n_college[sup] >= off.n_college[sup]) and on.n_college.sum() > off.n_college.sum()
    assert (np.all(on.n_dropout_compulsory[sup] <= off.n_dropout_compulsory[sup])
            and on.n_dropout_compulsory.sum() < off.n_dropout_compulsory.sum())


def _track(path, seed):
    s = load_scenario(path, households=3000)
    m = PovertyModel(rng=seed, **s.model_kwargs())
    dropouts = 0.0
    while m.running:
        m.step()
        dropouts += float(np.dot(m.hh.weight, m.hh.n_dropout_compulsory))
    df = m.timeseries()
    w = m.hh.weight
    return dict(dropouts=dropouts, continuing=float(np.dot(w, m.hh.n_senior + m.hh.n_college)),
                batch=df["batch_people_education"].to_numpy(), fiscal=df["fiscal_cost_education"].to_numpy())


def test_with_support_fewer_drop_out_and_more_continue_under_common_random_numbers(tmp_path):
    on_file = SCENARIOS / "shangluo.toml"
    text = on_file.read_text(encoding="utf-8")
    assert "\neducation = true" in text
    off_file = tmp_path / "shangluo_no_education.toml"
    off_file.write_text(text.replace("\neducation = true", "\neducation = false"), encoding="utf-8")
    seeds = (1, 2, 3)
    on = [_track(on_file, s) for s in seeds]
    off = [_track(off_file, s) for s in seeds]
    assert sum(r["dropouts"] for r in on) < sum(r["dropouts"] for r in off)
    assert sum(r["continuing"] for r in on) > sum(r["continuing"] for r in off)
    assert all((r["batch"] > 0).all() and (r["fiscal"] > 0).all() for r in on)
    assert all((r["batch"] == 0).all() and (r["fiscal"] == 0).all() for r in off)
