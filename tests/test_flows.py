"""The year's flows are declared: a misspelt flow is an error where it is used, not a
measure silently switched off."""

import types

import numpy as np
import pytest

from policies import training
from sim.registry import MEASURES, flow_registry
from sim.flows import ENGINE_FLOWS, Flow, Flows, MissingFlow, UndeclaredFlow, declare
from sim.model import PovertyModel


def test_a_misspelt_flow_is_an_error_to_read_test_or_write():
    f = Flows(flow_registry())
    f["assigned_training"] = np.array([True])
    with pytest.raises(UndeclaredFlow, match="'assigned_traning' is not declared"):
        f["assigned_traning"]
    with pytest.raises(UndeclaredFlow):
        "assigned_traning" in f
    with pytest.raises(UndeclaredFlow):
        f.get("assigned_traning", np.zeros(1, bool))
    with pytest.raises(UndeclaredFlow):
        f["exitted"] = np.array([True])
    with pytest.raises(UndeclaredFlow):
        f.update(exitted=np.array([True]))


def test_a_declared_flow_not_written_this_year_names_its_writer():
    f = Flows(flow_registry())
    with pytest.raises(MissingFlow, match=r"'exited' \(sim/exits.py\) has not been written this year"):
        f["exited"]
    assert "exited" not in f and f.get("exited") is None
    f["exited"] = np.array([True])
    f.clear_year()
    assert "exited" not in f


def test_each_measure_has_its_reach_targeted_ones_their_assignment_and_their_own_flows():
    declared = flow_registry()
    for name, spec in MEASURES.items():
        assert f"reached_{name}" in declared
        targeted = getattr(spec.module, "TARGETED", False)
        assert (f"assigned_{name}" in declared) == targeted == (f"waiting_{name}" in declared)
    assert declared["microcredit_gains"].writer == "policies/microcredit.py"
    assert declared["employment_placed"].writer == "policies/employment.py"


def test_a_flow_declared_twice_is_refused():
    voucher = types.ModuleType("policies.voucher")
    voucher.FLOWS = (Flow("exited", "bool per row", "policies/voucher.py", "a clash with the engine's"),)
    with pytest.raises(ValueError, match="policies/voucher.py: flow 'exited' is declared twice"):
        declare({"voucher": voucher})


def test_a_measure_reading_a_misspelt_assignment_fails_instead_of_training_nobody(monkeypatch):
    m = PovertyModel("shangluo", households=300, end_year=2017, rng=1, measures={"training": True})
    m.step()
    monkeypatch.setattr(training, "act", _misspelt_training_act)
    with pytest.raises(UndeclaredFlow, match="assigned_trainig"):
        m.step()


def _misspelt_training_act(model, on):
    f = model.flows
    trained = f["assigned_trainig"] if on and "assigned_trainig" in f else np.zeros(model.hh.n, bool)
    f["reached_training"] = trained
    return {}


def test_a_year_writes_only_declared_flows_and_every_engine_flow():
    m = PovertyModel("shangluo", households=400, end_year=2017, rng=2, measures=dict.fromkeys(MEASURES, True))
    m.step()
    m.step()
    written = set(dict.keys(m.flows))
    assert written <= set(flow_registry())
    assert {f.name for f in ENGINE_FLOWS} <= written
    for name, spec in MEASURES.items():
        own = {f.name for f in getattr(spec.module, "FLOWS", ())} | {f"reached_{name}"}
        assert own <= written, name
