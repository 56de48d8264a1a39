"""The measures' order comes from what each module declares, and a measure is one module:
a new one in a package is found, placed, and its columns, streams and results join the
engine's, with no edit to a central file."""

import sys
import textwrap
from types import SimpleNamespace

import pytest

from sim.measure import PHASES, MeasureOrderError, MeasureSpec, discover, ordered
from sim.metrics import COLUMNS
from sim.registry import HOUSEHOLD, MEASURES, STREAM_NAMES


def measure(name, phase, **declared):
    spec = MeasureSpec(name, phase, False, "social_security", "dibao", f"the {name} measure")
    return spec, SimpleNamespace(__name__=f"policies.{name}", MEASURE=spec, **declared)


def test_the_registry_acts_in_phase_order_and_every_measure_names_its_phase():
    rank = list(PHASES)
    phases = [rank.index(spec.phase) for spec in MEASURES.values()]
    assert phases == sorted(phases)
    assert list(MEASURES)[-1] == "dibao"  # the means test sees every income paid before it
    assert list(MEASURES).index("medical_insurance") < list(MEASURES).index("medical_assistance")
    assert list(MEASURES).index("relocation") < list(MEASURES).index("housing")


def test_a_voucher_paying_income_acts_before_the_means_test_that_reads_it_whatever_its_name():
    # Within one phase a reader follows the writer, although "dibao" sorts before "voucher".
    voucher = measure("voucher", "means_test", FIELDS_WRITTEN=("income_transfers",))
    floor = measure("dibao", "means_test", FIELDS_READ=("income_transfers",), FIELDS_WRITTEN=("income_transfers",))
    assert ordered([floor, voucher]) == ["voucher", "dibao"]
    assert ordered([voucher, floor]) == ["voucher", "dibao"]


def test_a_flow_read_orders_the_reader_after_its_writer():
    cover = measure("zcover", "costs", FLOWS=(SimpleNamespace(name="left_to_pay"),))
    help_ = measure("assist", "costs", READS=("left_to_pay",))
    assert ordered([help_, cover]) == ["zcover", "assist"]


def test_an_order_that_matters_but_is_left_to_the_names_is_refused():
    a = measure("shares", "production", FIELDS_WRITTEN=("income_property",))
    b = measure("coop", "production", FIELDS_WRITTEN=("income_property",))
    with pytest.raises(MeasureOrderError, match="'coop' and 'shares'.*income_property.*ACTS_BEFORE"):
        ordered([a, b])
    b_first = measure("coop", "production", FIELDS_WRITTEN=("income_property",), ACTS_BEFORE=("shares",))
    assert ordered([a, b_first]) == ["coop", "shares"]
    unrelated = measure("alpha", "production", FIELDS_WRITTEN=("eco_mu",))
    assert ordered([a, unrelated]) == ["alpha", "shares"]  # columns apart: by name, and it cannot matter


def test_contradictory_declarations_are_refused_with_the_measures_named():
    a = measure("a", "housing", FIELDS_READ=("x",), FIELDS_WRITTEN=("y",))
    b = measure("b", "housing", FIELDS_READ=("y",), FIELDS_WRITTEN=("x",))
    with pytest.raises(MeasureOrderError, match="a, b each read what another writes"):
        ordered([a, b])
    late = measure("late", "means_test", ACTS_BEFORE=("early",))
    early = measure("early", "costs")
    with pytest.raises(MeasureOrderError, match="'late' .*acts before 'early', whose phase .*costs.* comes earlier"):
        ordered([late, early])
    with pytest.raises(MeasureOrderError, match="'a' declares it acts before 'ghost', which is not a measure"):
        ordered([measure("a", "costs", ACTS_BEFORE=("ghost",))])
    with pytest.raises(MeasureOrderError, match="policies.odd: MEASURE.phase 'lunch' is not one of"):
        ordered([measure("odd", "lunch")])


def test_a_measure_is_one_module_found_in_its_package(tmp_path, monkeypatch):
    """A voucher and a floor in a package of their own: found by scanning, placed by their
    declarations; nothing else is edited."""
    package = tmp_path / "voucher_measures"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "voucher.py").write_text(textwrap.dedent('''
        from sim.measure import MeasureSpec
        from sim.results import Column
        from sim.table import Field

        MEASURE = MeasureSpec("voucher", "means_test", False, "social_security", "dibao",
                              "consumption vouchers for registered households with children")
        FIELDS = (Field("voucher_paid", "float32", 0.0, "yuan/year", "voucher paid this year"),)
        STREAMS = ("voucher_lottery",)
        FIELDS_WRITTEN = ("income_transfers", "voucher_paid")
        RESULTS = {"voucher_people": Column("people", "people in households paid a voucher")}
    '''))
    (package / "floor.py").write_text(textwrap.dedent('''
        from sim.measure import MeasureSpec

        MEASURE = MeasureSpec("floor", "means_test", True, "social_security", "dibao", "a means-tested floor")
        FIELDS_READ = ("income_transfers",)
        FIELDS_WRITTEN = ("income_transfers",)
    '''))
    (package / "helpers.py").write_text("SHARED = 1\n")  # a module without MEASURE is not a measure
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = discover("voucher_measures")
        assert list(found) == ["voucher", "floor"]
        assert found["voucher"].module_name == "voucher_measures.voucher"
        assert found["voucher"].module.FIELDS[0].name == "voucher_paid"
    finally:
        for name in [m for m in sys.modules if m.startswith("voucher_measures")]:
            del sys.modules[name]


def test_the_measures_own_columns_streams_and_results_join_the_engines():
    assert "loan_principal" in HOUSEHOLD and "weight" in HOUSEHOLD
    assert MEASURES["microcredit"].module.FIELDS[0].name == "loan_principal"
    assert "loan_takeup" in STREAM_NAMES and "birth" in STREAM_NAMES
    assert COLUMNS["microcredit_outstanding"].unit == "yuan"
    import sim.fields
    import sim.streams
    assert "loan_principal" not in {f.name for f in sim.fields.HOUSEHOLD_FIELDS}
    assert "loan_takeup" not in sim.streams.ENGINE_STREAMS
