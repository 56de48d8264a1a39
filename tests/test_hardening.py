"""Hostile input and a result store that never silently mixes results.

- Input: one declared schema per kind of file; duplicate keys and bad encodings named with
  the file (and the dotted path and lines); every problem of a file reported, one line
  each; exit code 2 and nothing written; legal but suspicious values warned about.
- Store: the config hash covers what determines the numbers and nothing else (renaming a
  scenario re-runs nothing); runs of scenarios removed from a sweep are left out of its
  results; `povsim report` warns when stored runs come from different configurations or
  code commits.
- Stability: the same run repeated in one process, interleaved with others, or on another
  executor or number of workers gives the same numbers.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli, provenance, runner, store
from experiments.executors import SerialExecutor, make_executor, run_sweep
from experiments.scenario import load_scenario
from experiments.sweep import load_sweep
from sim.errors import InputError
from sim.params import PARAMETER_DIR, Parameters
from sim.profiles import PROFILE_DIR
from sim.schema import SCHEMAS, InputProblems, SuspiciousValue, find_duplicate_key
from scenario_copies import short_copy, sweep_file

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "experiments" / "scenarios"
HOUSEHOLDS = 300

SMALL = 'name = "small"\nprofile = "shangluo"\nend_year = 2017\nhouseholds = 300\nseed = 3\n'


def check(path, capsys, *extra) -> tuple[int, list[str], str]:
    code = cli.main(["check", str(path), *extra])
    out, err = capsys.readouterr()
    return code, err.strip().splitlines(), out


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def sweep(path: Path, out: Path, capsys) -> tuple[int, str, str]:
    code = cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)])
    o, e = capsys.readouterr()
    return code, o, e


# ---------------------------------------------------------------------------------------
# one schema per kind, one line per problem


def test_every_kind_of_input_file_declares_one_schema():
    import experiments.sweep  # noqa: F401  (declares the sweep kind on import)
    assert {"profile", "parameter file", "scenario", "sweep"} <= set(SCHEMAS)
    for kind, schema in SCHEMAS.items():
        assert schema and all(hasattr(key, "kind") for key in schema.values()), kind


def test_every_problem_of_a_file_is_one_line_and_nothing_is_written(tmp_path, capsys):
    path = write(tmp_path, "bad.toml", 'name = "x"\nprofile = "shangluo"\nend_yaer = 2018\n'
                 'households = 5\nseeds = "two"\n[measures]\ndibao = "yes"\n')
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"povsim: error: {path}: end_yaer: unknown key 'end_yaer' (did you mean 'end_year'?)",
        f"povsim: error: {path}: households: 5 is below the minimum 10",
        f"povsim: error: {path}: seeds: expected a whole number, found 'two'",
        f"povsim: error: {path}: measures.dibao: expected true or false, found 'yes'",
    ]  # the misspelt end_year is not reported a second time as missing
    assert not out.exists()
    with pytest.raises(InputProblems) as info:
        load_scenario(path)
    assert [p.path for p in info.value.problems] == ["end_yaer", "households", "seeds", "measures.dibao"]


def test_debug_shows_the_traceback_and_only_then(tmp_path, capsys):
    path = write(tmp_path, "bad.toml", SMALL + "households = 5\n")
    code, lines, _ = check(path, capsys)
    assert code == 2 and not any("Traceback" in line for line in lines)
    code = cli.main(["check", str(path), "--debug"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("povsim: error:")


@pytest.mark.parametrize("text, path, lines", [
    (SMALL + "seed = 4\n", "seed", "line 5 and line 6"),
    (SMALL + '[overrides]\n"health.admission_rate_poor" = 0.2\n"health.admission_rate_poor" = 0.3\n',
     "overrides.health.admission_rate_poor", "line 7 and line 8"),
    (SMALL + "[measures]\ndibao = true\n[measures]\nmicrocredit = true\n", "measures", "line 6 and line 8"),
])
def test_a_key_given_twice_is_named_with_its_lines(tmp_path, capsys, text, path, lines):
    file = write(tmp_path, "dup.toml", text)
    code, err, _ = check(file, capsys)
    assert code == 2
    assert err == [f"povsim: error: {file}: {path}: given twice ({lines})"]


def test_duplicates_inside_sweep_entries_and_profiles(tmp_path, capsys):
    text = ('name = "s"\nseed = 1\nreplications = 1\n[[scenarios]]\nname = "a"\nfile = "a.toml"\n'
            '[[scenarios]]\nname = "b"\nname = "c"\nfile = "b.toml"\n')
    assert find_duplicate_key(text) == (9, "scenarios[1].name", 8)
    code, err, _ = check(write(tmp_path, "sweep.toml", text), capsys)
    assert code == 2 and err[0].endswith("scenarios[1].name: given twice (line 8 and line 9)")
    profile = (PROFILE_DIR / "shangluo.toml").read_text(encoding="utf-8")
    profile = profile.replace("[register]\n", "[register]\ncounties = { value = 7, source = \"x\" }\n", 1)
    code, err, _ = check(write(tmp_path, "region.toml", profile), capsys)
    assert code == 2 and re.search(r"region\.toml: register\.counties: given twice \(line \d+ and line \d+\)",
                                   err[0]), err


@pytest.mark.parametrize("encode, message", [
    (lambda t: t.encode("utf-16"), "UTF-16 text: save the file as UTF-8"),
    (lambda t: t.replace("Shangluo", "Shāngluò").encode("gbk", errors="replace").replace(b"?", b"\xe9"),
     "not UTF-8 text: byte 0x"),
    (lambda t: t.encode("latin-1").replace(b"small", b"sm\xe4ll"), "not UTF-8 text: byte 0xe4 on line 1"),
    (lambda t: t.encode() + b"\0\0", "not a text file"),
])
def test_a_file_in_the_wrong_encoding_is_refused_naming_the_file(tmp_path, capsys, encode, message):
    path = write(tmp_path, "enc.toml", encode(SMALL + 'description = "Shangluo"\n'))
    code, err, _ = check(path, capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"povsim: error: {path}: {message}"), err


def test_a_utf8_byte_order_mark_is_fine(tmp_path, capsys):
    path = write(tmp_path, "bom.toml", b"\xef\xbb\xbf" + SMALL.encode())
    code, err, out = check(path, capsys)
    assert code == 0 and err == [] and "scenario small" in out


def test_a_share_written_as_a_percentage_says_so(tmp_path, capsys):
    path = write(tmp_path, "pct.toml", SMALL + '[overrides]\n"medical.assistance_share" = 70\n')
    code, err, _ = check(path, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith(
        f"povsim: error: {path}: overrides.medical.assistance_share: 70 is above the maximum 1")
    assert err[0].endswith("a percentage? write a share: 0.7")


def test_parameter_files_are_checked_against_their_schema(tmp_path):
    directory = tmp_path / "parameters"
    shutil.copytree(PARAMETER_DIR, directory)
    health = directory / "health.toml"
    text = health.read_text(encoding="utf-8")
    first = re.search(r"^unit = ", text, re.M)
    text = text[:first.start()] + "unti = " + text[first.end():]  # a misspelt key
    text += '\n[health.new_rate]\nunit = "share"\ndescription = "x"\nsource = "x"\nvalue = 0.5\nmin = "low"\n'
    health.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        Parameters.load(directory)
    lines = [p.one_line() for p in getattr(info.value, "problems", [info.value])]
    assert any(re.match(r"health\.toml: health\.\w+\.unti: unknown key 'unti' \(did you mean 'unit'\?\)", line)
               for line in lines), lines
    assert "health.toml: health.new_rate.min: expected a number, found 'low'" in lines, lines


# ---------------------------------------------------------------------------------------
# warnings: legal but suspicious values


def test_a_poverty_line_of_another_year_is_a_warning_not_an_error(tmp_path, capsys):
    line_2014 = Parameters.load().at("poverty.line", 2014)
    path = write(tmp_path, "line.toml", SMALL.replace("end_year = 2017", "end_year = 2020")
                 + f'[overrides]\n"poverty.line" = {{ values = {{ 2019 = {line_2014:g} }} }}\n')
    code, err, out = check(path, capsys)
    assert code == 0 and out.startswith("ok:")
    assert err == [f"povsim: warning: {path}: overrides.poverty.line.2019: {line_2014:g} "
                   f"yuan/person/year is the default of 2014, not of 2019 "
                   f"({Parameters.load().at('poverty.line', 2019):g}): a value for the wrong year?"]
    with pytest.warns(SuspiciousValue, match="overrides.poverty.line.2019"):
        load_scenario(path)


def test_a_value_in_another_unit_is_a_warning(tmp_path, capsys):
    path = write(tmp_path, "unit.toml", SMALL + '[overrides]\n"microcredit.amount" = 5\n')
    code, err, _ = check(path, capsys)
    assert code == 0
    assert len(err) == 1 and re.search(r"overrides\.microcredit\.amount: 5 yuan is 1/[\d,]+ of the "
                                       r"default \d+: another unit", err[0]), err


def test_a_profile_with_people_and_households_swapped_is_a_warning(tmp_path, capsys):
    text = (PROFILE_DIR / "shangluo.toml").read_text(encoding="utf-8")
    text = re.sub(r"^households = \{ value = 160855", "households = { value = 16085", text, flags=re.M)
    path = write(tmp_path, "region.toml", text)
    code, err, _ = check(path, capsys)
    assert code == 0 and len(err) == 1
    assert "register.households: 30.40 registered people per household" in err[0]


def test_a_start_before_the_profile_is_a_warning_and_the_run_goes_on(tmp_path, capsys):
    path = write(tmp_path, "early.toml", SMALL.replace("end_year = 2017", "start_year = 2015\nend_year = 2015"))
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 0
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("[")]  # progress
    assert err == [f"povsim: warning: {path}: start_year: 2015 is before the profile's start "
                   "year 2016 (its register and population are of that year)"]
    assert (out / "timeseries.parquet").is_file()


def test_shipped_files_are_clean():
    """No shipped scenario, sweep or profile raises a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuspiciousValue)
        for path in sorted(SCENARIOS.glob("*.toml")):
            load_scenario(path)
        for path in sorted((REPO / "experiments" / "sweeps").glob("*.toml")):
            load_sweep(path)


# ---------------------------------------------------------------------------------------
# the config hash and the store


def test_the_config_hash_covers_numbers_not_names_or_citations(tmp_path):
    base = load_scenario(write(tmp_path, "a.toml", SMALL + 'description = "one"\n'))
    renamed = load_scenario(write(tmp_path, "b.toml", SMALL.replace('"small"', '"other"')
                                  + 'description = "two"\n'))
    cited = load_scenario(write(tmp_path, "c.toml", SMALL + '[overrides]\n"poverty.line" = '
                                '{ values = { 2016 = 2952 }, source = "a citation" }\n'))
    changed = load_scenario(write(tmp_path, "d.toml", SMALL + '[overrides]\n"poverty.line" = 2953\n'))
    fewer = load_scenario(write(tmp_path, "e.toml", SMALL.replace("300", "301")))
    assert base.config_hash() == renamed.config_hash() == cited.config_hash()
    assert len({base.config_hash(), changed.config_hash(), fewer.config_hash()}) == 3
    assert "scenario" not in base.hashed() and base.resolved()["scenario"] == "small"



def test_runs_stored_by_other_engine_code_are_not_taken_for_this_codes(tmp_path):
    """The config hash holds the fingerprint of the engine's sources: after a change to the
    model's code (an upgrade, a rule changed), a sweep resuming into the same store runs
    again instead of reporting the older code's numbers as stored."""
    from sim import kernel_cache

    sc = load_scenario(write(tmp_path, "a.toml", SMALL))
    before = sc.config_hash()
    root = tmp_path / "engine"
    for package in kernel_cache.PACKAGES:
        (root / package).mkdir(parents=True)
        (root / package / "rule.py").write_text("SHARE = 0.5\n")
    first = kernel_cache.engine_fingerprint(root)
    (root / "sim" / "rule.py").write_text("SHARE = 0.6\n")
    kernel_cache._ENGINE.clear()
    assert kernel_cache.engine_fingerprint(root) != first
    kernel_cache._ENGINE[kernel_cache.ROOT] = "0" * 64  # as if the engine's code had changed
    try:
        assert sc.config_hash() != before
    finally:
        kernel_cache._ENGINE.clear()
    assert sc.config_hash() == before

def test_renaming_a_scenario_reuses_its_stored_runs(tmp_path, capsys):
    path = sweep_file(tmp_path)
    out = tmp_path / "out"
    assert sweep(path, out, capsys)[0] == 0
    before = store.load_results(out)
    path.write_text(path.read_text().replace('name = "shangluo"', 'name = "the_plan"'))
    code, stdout, err = sweep(path, out, capsys)
    assert code == 0 and "0 done, 0 failed, 4 already stored" in stdout, stdout + err
    after = store.load_results(out)
    assert set(after["scenario"]) == {"baseline", "the_plan"}
    renamed = after[after.scenario == "the_plan"].drop(columns="scenario").reset_index(drop=True)
    original = before[before.scenario == "shangluo"].drop(columns="scenario").reset_index(drop=True)
    pd.testing.assert_frame_equal(renamed, original, check_exact=True)
    # the old name's runs are stale: left out of the results, and the report says so
    assert store.stale_scenarios(out) == ["shangluo"]
    assert set(store.load_results(out, current_only=False)["scenario"]) == {"baseline", "shangluo", "the_plan"}
    assert cli.main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "left out 2 stored runs of scenarios no longer in the sweep: shangluo" in err


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A finished two-scenario sweep (serial), to copy and tamper with."""
    tmp = tmp_path_factory.mktemp("stored")
    path = sweep_file(tmp)
    sweep_ = load_sweep(path)
    run_sweep(sweep_, tmp / "out", SerialExecutor(), progress=False)
    store.write_json(tmp / "out" / store.MANIFEST,
                     store.sweep_manifest(sweep_, provenance.utc_now(), provenance.utc_now()))
    return tmp / "out"


def test_a_consistent_store_has_no_provenance_warnings(stored, tmp_path, capsys):
    out = shutil.copytree(stored, tmp_path / "out")
    assert store.provenance_warnings(out) == []
    assert cli.main(["report", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert "Provenance" not in (out / "report.md").read_text(encoding="utf-8")
    prov = store.provenance(next((out / "runs").rglob("*.parquet")))
    assert set(prov) >= {"config_hash", "commit", "dirty", "povsim", "written_utc"}


def test_report_warns_when_runs_come_from_different_code(stored, tmp_path, capsys, monkeypatch):
    out = shutil.copytree(stored, tmp_path / "out")
    seed = load_sweep(sweep_file(tmp_path / "s")).seeds()[0]
    frame = store.load_results(out).query("scenario == 'shangluo' and seed == @seed")
    monkeypatch.setattr(store, "_CODE", {"commit": "0123456789abcdef", "dirty": False, "povsim": "0"})
    h = frame["config_hash"].iloc[0]
    store.write_run(out, "shangluo", seed, h, frame.drop(columns=["config_hash"]))
    assert cli.main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"povsim: warning: {out}: the stored runs come from different code: commits" in err
    assert "0123456789ab (1 run)" in err


def test_report_warns_when_runs_come_from_different_configurations(stored, tmp_path, capsys):
    out = shutil.copytree(stored, tmp_path / "out")
    seed = load_sweep(sweep_file(tmp_path / "s")).seeds()[0]
    frame = store.load_results(out).query("scenario == 'shangluo' and seed == @seed")
    # as if stored by an older configuration (a file merely renamed would be refused as damaged)
    store.write_run(out, "shangluo", seed, "0000000000000000", frame.drop(columns=["config_hash"]))
    assert cli.main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "scenario 'shangluo': stored runs come from different configurations: 0000000000000000 (1 run)" in err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Provenance warnings" in markdown and "0000000000000000 (1 run)" in markdown


# ---------------------------------------------------------------------------------------
# stability: no hidden global state, any executor and number of workers


def test_repeated_and_interleaved_runs_in_one_process_are_identical(tmp_path):
    a = load_scenario(short_copy(tmp_path, "shangluo"), households=HOUSEHOLDS)
    b = load_scenario(short_copy(tmp_path, "guangyuan"), households=HOUSEHOLDS)
    first = runner.run_one(a, 11)
    runner.run_one(b, 12)
    runner.run_one(a, 13)
    again = runner.run_one(a, 11)
    pd.testing.assert_frame_equal(first, again, check_exact=True)


def test_one_worker_stores_the_serial_results(stored, tmp_path):
    """(test_sweep checks two workers and Dask against serial.)"""
    sweep_ = load_sweep(sweep_file(tmp_path / "s"))
    for workers in (1,):
        out = tmp_path / f"w{workers}"
        executor = make_executor("process", workers=workers)
        try:
            assert run_sweep(sweep_, out, executor, progress=False) == (4, 0, 0)
        finally:
            executor.shutdown(wait=True)
        pd.testing.assert_frame_equal(store.load_results(out), store.load_results(stored),
                                      check_exact=True)


def test_bad_input_leaves_an_existing_results_directory_untouched(stored, tmp_path, capsys):
    out = shutil.copytree(stored, tmp_path / "out")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = sweep_file(tmp_path / "s")
    bad.write_text(bad.read_text().replace("replications = 2", "replications = 0"))
    for extra in ([], ["--fresh"]):
        code = cli.main(["sweep", str(bad), "--executor", "serial", "--out", str(out), *extra])
        assert code == 2 and "replications: 0 is below the minimum 1" in capsys.readouterr().err
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_an_output_directory_that_cannot_be_written_is_refused_first(tmp_path, capsys, monkeypatch):
    """(Root may write anywhere, so the refusal of the file system is simulated.)"""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    path = sweep_file(tmp_path)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"povsim: error: {out}: cannot write in {tmp_path}: Permission denied"]
    assert not out.exists()


def test_an_override_for_a_year_after_the_horizon_is_refused(tmp_path, capsys):
    """2030 for 2020: the value would never be used; `check` says so, like `run`. A year
    before the start is kept (the value holds from then on, into the horizon)."""
    late = write(tmp_path, "late.toml", SMALL + '[overrides]\n"poverty.line" = { values = { 2030 = 3300 } }\n')
    code, err, _ = check(late, capsys)
    assert code == 2 and err == [f"povsim: error: {late}: overrides.poverty.line.2030: 2030 is after the last "
                                 "simulated year 2017: the value would never be used"]
    bare = write(tmp_path, "bare.toml", SMALL + '[overrides.health]\nadmission_rate_poor = { 2031 = 0.3 }\n')
    assert check(bare, capsys)[0] == 2
    early = write(tmp_path, "early.toml", SMALL + '[overrides]\n"poverty.line" = { values = { 2015 = 2900 } }\n')
    assert check(early, capsys)[0] == 0
    assert load_scenario(early).params.at("poverty.line", 2016) == 2900


@pytest.mark.parametrize("name, needle", [
    ("a\\u0000b", "cannot be used as a scenario name: it holds '\\x00'"),
    ("x" * 5000, "(5000 characters) is too long for a scenario name"),
    ("商" * 30, "too long for a scenario name"),  # 90 bytes, but 270 characters percent-encoded
    ("a/b", "cannot be used as a scenario name: it holds '/'"),
])
def test_names_that_cannot_be_folder_names_are_refused_by_check(tmp_path, capsys, name, needle):
    path = write(tmp_path, "n.toml", SMALL.replace('name = "small"', f'name = "{name}"'))
    code, err, _ = check(path, capsys)
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert f"{path}: name:" in err[0]
