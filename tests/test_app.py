"""`povsim app`: the workbench's logic without a browser, then the page in headless Chromium.

The browser test starts `povsim app` as a user would, switches microcredit off on a short
Shangluo scenario, is refused a bad value with `povsim check`'s message, runs 2 seeds of 500
households, and checks the paired differences the page shows against `povsim compare` on the
same store, and the saved scenario file against `povsim run`. Its screenshot is kept in
test-artifacts/app.png (ignored by git). Without Chromium and chromedriver it fails, saying
so: CI installs them (.ci/run).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli, workbench
from experiments.compare import YEARLY, interval_text
from experiments.outcomes import OUTCOMES as HORIZON
from experiments.scenario import load_scenario
from sim.registry import MEASURES

REPO = Path(__file__).resolve().parent.parent
SHANGLUO = REPO / "experiments" / "scenarios" / "shangluo.toml"
ARTIFACTS = REPO / "test-artifacts"


def short_scenario(tmp_path: Path, end_year: int = 2017, households: int = 500) -> Path:
    """Shangluo's plan over its first two years, small: a pair answers in seconds."""
    text = SHANGLUO.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^name = .*$", 'name = "shangluo_short"', text)
    text = re.sub(r"(?m)^end_year = .*$", f"end_year = {end_year}", text)
    text = re.sub(r"(?m)^households = .*$", f"households = {households}", text)
    path = tmp_path / "shangluo_short.toml"
    path.write_text(text, encoding="utf-8")
    return path


def mix_choices(path, **values) -> workbench.Choices:
    ch = workbench.initial_choices(path)
    return dataclasses.replace(ch, measures={**ch.measures, "microcredit": False}, seeds="2",
                               values={**ch.values, **values})


def check_lines(tmp_path, monkeypatch, capsys, text: str, name: str) -> list[str]:
    """What `povsim check` prints for `text` saved as `name` (relative, as the page names it)."""
    folder = tmp_path / "check"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = cli.main(["check", name])
    err = capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    return [code, [line for line in err.splitlines() if line.startswith("povsim: error: ")]]


# ---------------------------------------------------------------------------------------
# the logic, without a browser


def test_every_measure_offers_its_main_parameters_with_unit_bounds_and_source():
    scenario = load_scenario(SHANGLUO)
    controls = workbench.controls(scenario)
    assert set(workbench.MAIN_PARAMETERS) == set(MEASURES)
    for name in [p for group in workbench.MAIN_PARAMETERS.values() for p in group] + list(workbench.EXIT_PARAMETERS):
        c = controls[name]
        assert c.unit and c.source and c.description, name
        assert isinstance(c.value, float) and c.min is not None, name  # a number with a bound
        assert workbench.read_value(workbench.format_number(c.value)) == pytest.approx(c.value)
    assert controls["medical.assistance_share"].value == 0.7  # the scenario's override, not the default
    assert controls["medical.assistance_share"].bounds() == "0 to 1"


def test_the_saved_mix_is_a_scenario_check_and_run_accept_with_the_same_configuration(tmp_path, monkeypatch, capsys):
    choices = dataclasses.replace(mix_choices(SHANGLUO, **{"medical.assistance_share": "0.9"}),
                                  households="700", end_year="2018", name="my_mix")
    pair = workbench.plan(choices)
    assert pair.changes == {"measures.microcredit": False, "medical.assistance_share": 0.9}
    assert pair.mix.name == "shangluo[measures.microcredit=false,medical.assistance_share=0.9]"
    assert pair.baseline.name == "shangluo" and pair.baseline.measures["microcredit"]
    assert (pair.mix.households, pair.mix.end_year, pair.baseline.end_year) == (700, 2018, 2018)
    assert len(pair.seeds) == 2 and pair.root == pair.mix.seed == 20160101
    path = workbench.save(pair, choices, tmp_path / "saved")
    assert path.name == "my_mix.toml"
    code, errors = check_lines(tmp_path, monkeypatch, capsys, path.read_text(encoding="utf-8"), path.name)
    assert (code, errors) == (0, [])
    saved = load_scenario(path)
    assert saved.config_hash() == pair.mix.config_hash()
    assert saved.params.at("medical.assistance_share", 2016) == 0.9 and not saved.measures["microcredit"]
    # the baseline is the scenario unmodified, with the same run settings
    same = load_scenario(SHANGLUO, households=700)
    assert pair.baseline.params.resolved(2016, 2018) == same.params.resolved(2016, 2018)


def test_the_baseline_is_the_scenario_unmodified_and_a_shorter_horizon_keeps_the_file_valid(tmp_path, monkeypatch, capsys):
    national = REPO / "experiments" / "scenarios" / "national.toml"  # dated overrides through 2020
    choices = dataclasses.replace(workbench.initial_choices(national), households="800",
                                  measures={**workbench.initial_choices(national).measures, "assets": False})
    pair = workbench.plan(choices)
    assert pair.baseline.config_hash() == load_scenario(national, households=800).config_hash()
    short = workbench.plan(dataclasses.replace(choices, end_year="2015"))
    assert short.baseline.end_year == short.mix.end_year == 2015
    # the years after 2015 are left out of the saved file: check would refuse them
    path = workbench.save(short, dataclasses.replace(choices, end_year="2015"), tmp_path / "saved")
    assert "2016 =" not in path.read_text(encoding="utf-8")
    assert check_lines(tmp_path, monkeypatch, capsys, path.read_text(encoding="utf-8"), path.name) == [0, []]
    assert load_scenario(path).config_hash() == short.mix.config_hash()


def test_bad_values_are_refused_with_the_lines_povsim_check_prints(tmp_path, monkeypatch, capsys):
    for choices in (mix_choices(SHANGLUO, **{"medical.assistance_share": "1.5", "microcredit.amount": "a lot"}),
                    dataclasses.replace(mix_choices(SHANGLUO), households="5", seeds="0")):
        with pytest.raises(workbench.Refused) as refused:
            workbench.plan(choices)
        text = workbench.scenario_text(choices, tmp_path / "check")
        code, errors = check_lines(tmp_path, monkeypatch, capsys, text, "shangluo_mix.toml")
        assert code == 2
        assert errors == [f"povsim: error: {line}" for line in refused.value.lines]
    assert refused.value.lines[0].startswith("shangluo_mix.toml: households: 5 is below the minimum 10")


def test_a_mix_that_changes_nothing_is_refused():
    with pytest.raises(workbench.Refused, match="the mix is the scenario shangluo itself"):
        workbench.plan(workbench.initial_choices(SHANGLUO))


def test_povsim_app_has_help_and_refuses_bad_options_in_one_line(tmp_path, capsys):
    assert cli.main(["app", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--port" in out and "--host" in out and "--results" in out and "90% intervals" in out
    for argv, says in ((["--port", "70000"], "command line: --port: 70000 is above the maximum 65535"),
                       ([str(tmp_path / "missing.toml")], "missing.toml: file not found")):
        assert cli.main(["app", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0]


def test_the_extra_cost_per_sustained_exit_says_which_way_the_mix_goes():
    def horizon(cost, exits, returns):
        return pd.DataFrame({"measure": ["fiscal_cost", "exits", "returns"], "mean": [cost, exits, returns]})

    assert workbench.extra_cost_per_sustained_exit(horizon(2e6, 120, 20))[0] == 20_000
    assert "extra fiscal cost per extra sustained exit" in workbench.extra_cost_per_sustained_exit(horizon(2e6, 120, 20))[1]
    assert "saved per sustained exit given up" in workbench.extra_cost_per_sustained_exit(horizon(-1e6, -60, -10))[1]
    assert "more and sustains" in workbench.extra_cost_per_sustained_exit(horizon(1e6, -60, -10))[1]
    assert math.isnan(workbench.extra_cost_per_sustained_exit(horizon(1e6, 10, 10))[0])


def test_a_pair_runs_once_through_the_store_and_gives_compares_and_runs_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    short = short_scenario(tmp_path)
    choices = mix_choices(short)
    pair = workbench.plan(choices)
    seen = []
    first = workbench.run_pair(pair, tmp_path / "results", on_progress=lambda f, text: seen.append(f))
    assert (first.ran, first.loaded) == (4, 0) and seen[-1] == 1.0
    assert (first.store / "runs").is_dir() and (first.store / "manifest.json").is_file()
    again = workbench.run_pair(pair, tmp_path / "results")
    assert (again.ran, again.loaded) == (0, 4)  # loaded, not run again
    pd.testing.assert_frame_equal(first.frames, again.frames)

    # the same differences as povsim compare on the store
    base, mix = pair.names
    assert cli.main(["compare", base, mix, "--in", str(first.store), "--out", str(tmp_path / "cmp")]) == 0
    table = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    yearly = table[table["year"] != "horizon"].astype({"year": int}).reset_index(drop=True)
    for column in ("mean", "lo", "hi"):
        assert yearly[column].to_numpy() == pytest.approx(first.yearly[column].to_numpy(), rel=1e-12, nan_ok=True)
    horizon = table[table["year"] == "horizon"].reset_index(drop=True)
    assert horizon["mean"].to_numpy() == pytest.approx(first.horizon["mean"].to_numpy(), rel=1e-12, nan_ok=True)

    # the saved file, run by povsim run, gives the page's mix numbers
    path = workbench.save(pair, choices, tmp_path / "saved")
    capsys.readouterr()
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run")]) == 0
    run = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
    page = first.frames[first.frames["scenario"] == mix].drop(columns=["scenario", "config_hash"])
    columns = [c for c in page.columns if c != "seed"]
    pd.testing.assert_frame_equal(run.sort_values(["seed", "year"])[["seed", *columns]].reset_index(drop=True),
                                  page.sort_values(["seed", "year"])[["seed", *columns]].reset_index(drop=True),
                                  check_dtype=False)


# ---------------------------------------------------------------------------------------
# the page, in headless Chromium


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("the browser test needs Chromium and chromedriver (Debian: apt-get install chromium "
                    "chromium-driver; .ci/run installs them when it runs as root); found "
                    f"chromium={chromium}, chromedriver={driver}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1400"):
        options.add_argument(flag)
    options.binary_location = chromium
    return webdriver.Chrome(options=options, service=Service(driver))


def _start_app(tmp_path: Path, scenario: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "app.out"
    with open(out, "w") as stdout, open(tmp_path / "app.log", "w") as stderr:  # files: never a full pipe
        proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "app", str(scenario), "--port", "0",
                                 "--results", str(tmp_path / "results")], cwd=tmp_path, env=env,
                                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (match := re.search(r"(http://\S+/)", out.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"povsim app printed no address: {out.read_text()!r}; "
                        f"log: {(tmp_path / 'app.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return proc, match.group(1)


def test_the_page_runs_a_mix_and_shows_compares_differences(tmp_path, monkeypatch, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    short = short_scenario(tmp_path)
    browser = _browser()
    proc, url = _start_app(tmp_path, short)
    try:
        wait = WebDriverWait(browser, 120)
        deadline = time.monotonic() + 60
        while True:  # the server imports Solara and the engine before it answers
            try:
                browser.get(url)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".povsim-switch-microcredit input"))

        def type_into(css: str, text: str) -> None:
            field = browser.find_element(By.CSS_SELECTOR, f"{css} input")
            field.click()
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(text, Keys.ENTER)

        def page_text(css: str) -> list[str]:
            return [e.text for e in browser.find_elements(By.CSS_SELECTOR, css)]

        switch = browser.find_element(By.CSS_SELECTOR, ".povsim-switch-microcredit input")
        assert switch.get_attribute("aria-checked") == "true"
        browser.execute_script("arguments[0].click()", switch)
        wait.until(lambda b: switch.get_attribute("aria-checked") == "false")
        type_into(".povsim-seeds", "2")
        type_into(".povsim-households", "500")

        # a bad value: check's message, and nothing runs
        type_into(".povsim-param-medical-assistance_share", "1.5")
        browser.find_element(By.CSS_SELECTOR, ".povsim-run").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".povsim-refused"))
        bad = dataclasses.replace(mix_choices(short, **{"medical.assistance_share": "1.5"}), households="500")
        with pytest.raises(workbench.Refused) as refused:
            workbench.plan(bad)
        assert page_text(".povsim-refused") == refused.value.lines
        assert "overrides.medical.assistance_share: 1.5 is above the maximum 1" in refused.value.lines[0]
        time.sleep(1.0)
        assert not (tmp_path / "results" / "app").exists() and not page_text(".povsim-status")

        type_into(".povsim-param-medical-assistance_share", "0.7")
        browser.find_element(By.CSS_SELECTOR, ".povsim-run").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".povsim-differences"))
        summary = page_text(".povsim-summary")[0]
        assert "4 runs done, 0 loaded" in summary and "2 seeds" in summary and "500 household rows" in summary
        cells = {(e.get_attribute("data-measure"), int(e.get_attribute("data-year"))): e.text
                 for e in browser.find_elements(By.CSS_SELECTOR, ".povsim-differences td.diff")}
        over = {e.get_attribute("data-measure"): e.text
                for e in browser.find_elements(By.CSS_SELECTOR, ".povsim-horizon td.diff")}
        ARTIFACTS.mkdir(exist_ok=True)
        browser.set_window_size(1600, 2600)
        browser.save_screenshot(str(ARTIFACTS / "app.png"))

        # povsim compare on the page's store prints the same numbers
        pair = workbench.plan(dataclasses.replace(mix_choices(short), households="500"))
        store = workbench.store_dir(tmp_path / "results", pair)
        capsys.readouterr()
        assert cli.main(["compare", *pair.names, "--in", str(store), "--out", str(tmp_path / "cmp")]) == 0
        table = pd.read_csv(tmp_path / "cmp" / "compare.csv")
        yearly = table[table["year"] != "horizon"]
        expected = {(r["measure"], int(r["year"])): interval_text(r, YEARLY[r["measure"]][2]) for _, r in yearly.iterrows()}
        assert cells == expected and len(cells) == 2 * len(YEARLY)
        horizon = table[table["year"] == "horizon"]
        assert over == {r["measure"]: interval_text(r, HORIZON[r["measure"]][2], HORIZON[r["measure"]][3])
                        for _, r in horizon.iterrows()}

        # run again: loaded from the store
        browser.find_element(By.CSS_SELECTOR, ".povsim-run").click()
        wait.until(lambda b: "0 runs done, 4 loaded" in " ".join(page_text(".povsim-summary")))

        # save: povsim run takes the file as it is and gives the page's mix numbers
        browser.find_element(By.CSS_SELECTOR, ".povsim-save").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".povsim-saved"))
        saved = Path(re.search(r"saved (\S+\.toml)", page_text(".povsim-saved")[0]).group(1))
        saved = saved if saved.is_absolute() else tmp_path / saved
        assert saved.is_file()
        monkeypatch.chdir(tmp_path)
        assert cli.main(["run", str(saved), "--out", str(tmp_path / "run")]) == 0
        run = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
        stored = pd.concat(pd.read_parquet(p) for p in sorted((store / "runs").glob("scenario=shangluo_short%5B*/seed=*/*.parquet")))
        assert sorted(run["exits_people"]) == sorted(stored["exits_people"])
        assert sorted(run["fiscal_cost_total"]) == sorted(stored["fiscal_cost_total"])
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "app-failure.png"))
        raise
    finally:
        browser.quit()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
