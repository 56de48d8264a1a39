"""A measure mix in one line: `measures.<name> = true|false` in scenario and sweep overrides
and `povsim run --set`, validated like the file's own values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import cli
from experiments.scenario import load_scenario
from experiments.sweep import load_sweep
from sim.errors import InputError

SCENARIO = """name = "mix"
profile = "shangluo"
start_year = 2016
end_year = 2017
households = 300
seed = 3
seeds = 1

[measures]
microcredit = true
medical_assistance = true
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_measure_switched_off_in_the_overrides_is_off_and_changes_the_hash(tmp_path):
    plain = load_scenario(write(tmp_path, "a.toml", SCENARIO))
    off = load_scenario(write(tmp_path, "b.toml", SCENARIO + '[overrides]\n"measures.microcredit" = false\n'
                              '"medical.assistance_share" = 0.9\n'))
    assert plain.measures["microcredit"] and not off.measures["microcredit"]
    assert off.measures["medical_assistance"]  # the others as the file has them
    assert off.params.at("medical.assistance_share", 2016) == 0.9
    assert off.config_hash() != plain.config_hash()
    nested = load_scenario(write(tmp_path, "c.toml", SCENARIO + "[overrides.measures]\nmicrocredit = false\n"
                                 '[overrides.medical]\nassistance_share = 0.9\n'))
    assert nested.config_hash() == off.config_hash()


@pytest.mark.parametrize("line, needle", [
    ('"measures.microcredt" = false', "unknown measure 'microcredt' (did you mean 'microcredit'?)"),
    ('"measures.lottery" = false', "unknown measure 'lottery' (measures: medical_insurance,"),
    ('"measures.microcredit" = 0', "expected true or false, found 0"),
])
def test_a_bad_switch_is_refused_naming_the_file_and_the_key(tmp_path, line, needle):
    path = write(tmp_path, "bad.toml", SCENARIO + f"[overrides]\n{line}\n")
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and "overrides.measures." in str(err.value)
    assert needle in str(err.value)


def test_a_sweep_switches_measures_in_an_entry_and_in_a_grid(tmp_path):
    write(tmp_path, "mix.toml", SCENARIO)
    sweep = write(tmp_path, "s.toml", 'name = "s"\nseed = 1\nreplications = 1\n'
                  '[[scenarios]]\nname = "plan"\nfile = "mix.toml"\n'
                  '[[scenarios]]\nname = "no_credit"\nfile = "mix.toml"\n'
                  'overrides = { "measures.microcredit" = false }\n'
                  '[grid]\n"measures.medical_assistance" = [true, false]\n')
    runs = dict(load_sweep(sweep).scenarios)
    assert set(runs) == {f"{n}[measures.medical_assistance={v}]" for n in ("plan", "no_credit")
                         for v in ("true", "false")}
    got = {name: (sc.measures["microcredit"], sc.measures["medical_assistance"]) for name, sc in runs.items()}
    assert got["plan[measures.medical_assistance=false]"] == (True, False)
    assert got["no_credit[measures.medical_assistance=true]"] == (False, True)
    assert len({sc.config_hash() for sc in runs.values()}) == 4


def test_a_measure_cannot_be_sampled(tmp_path):
    write(tmp_path, "mix.toml", SCENARIO)
    sweep = write(tmp_path, "s.toml", 'name = "s"\nseed = 1\nreplications = 1\n'
                  '[[scenarios]]\nname = "plan"\nfile = "mix.toml"\n'
                  '[sample]\nmethod = "lhs"\nn = 4\n[sample.ranges]\n"measures.microcredit" = [0, 1]\n')
    with pytest.raises(InputError, match=r"sample\.ranges\.measures\.microcredit: a measure is on or off"):
        load_sweep(sweep)


def test_run_with_set_runs_the_mix_beside_the_scenario(tmp_path, capsys):
    path = write(tmp_path, "mix.toml", SCENARIO)
    out = tmp_path / "out"
    code = cli.main(["run", str(path), "--set", "measures.microcredit=false", "--set",
                     "medical.assistance_share=0.9", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"] == "mix[measures.microcredit=false,medical.assistance_share=0.9]"
    assert manifest["config"]["measures"]["microcredit"] is False
    assert manifest["config"]["parameters"]["medical.assistance_share"] == 0.9
    assert "measures.microcredit=false" in manifest["command"] and "medical.assistance_share=0.9" in manifest["command"]
    # the same mix written in the file gives the same configuration
    in_file = load_scenario(write(tmp_path, "b.toml", SCENARIO + '[overrides]\n"measures.microcredit" = false\n'
                                  '"medical.assistance_share" = 0.9\n'))
    assert manifest["config_hash"] == in_file.config_hash()


@pytest.mark.parametrize("setting, needle", [
    ("measures.microcredt=false", "command line: --set.measures.microcredt: unknown measure 'microcredt' "
                                  "(did you mean 'microcredit'?)"),
    ("medical.assistance_share=1.5", "--set.medical.assistance_share: 1.5 is above the maximum"),
    ("medical.assistance_share", "--set: expected KEY=VALUE"),
    ("medical.assistance_share=ninety", "--set medical.assistance_share: cannot read 'ninety' as a value"),
])
def test_a_bad_set_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, setting, needle):
    path = write(tmp_path, "mix.toml", SCENARIO)
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()
