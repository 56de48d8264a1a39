"""Global sensitivity analysis: Sobol indices of a function with known indices (Ishigami),
Morris effects of a linear function, and on the model a parameter it ignores gets a total
index of zero; runs are stored, so a rerun resumes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from experiments import cli
from experiments.calibrate import FreeParam
from experiments.sensitivity import design_size, sensitivity

REPO = Path(__file__).resolve().parent.parent


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """Analytic first-order and total indices of f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on
    [-pi, pi]^3 (Ishigami and Homma 1990; Saltelli et al. 2008, the Primer)."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_sobol_recovers_the_ishigami_indices():
    free = [FreeParam(f"x{i}", -math.pi, math.pi, "test function") for i in (1, 2, 3)]
    lines = []
    table, X, Y = sensitivity(free, Ishigami.evaluate, "sobol", 2048, seed=1, batch_size=4096,
                              progress=lines.append)
    assert len(X) == design_size("sobol", 2048, 3) == 2048 * 5
    assert len(lines) == 3  # one progress line per batch
    s1, st = ishigami_indices()
    # With N = 2048 (10,240 evaluations) the estimates are within about 0.005 of the analytic
    # values for seeds 0-2 (measured); 0.03 leaves room for other seeds and SALib versions
    # while still telling every index apart (the smallest gap between them is 0.12).
    assert table["S1"].to_numpy() == pytest.approx(s1, abs=0.03)
    assert table["ST"].to_numpy() == pytest.approx(st, abs=0.03)
    # the 95% bootstrap intervals are reported and cover the analytic values
    assert (np.abs(table["S1"].to_numpy() - s1) <= table["S1_conf"].to_numpy()).all()
    assert (np.abs(table["ST"].to_numpy() - st) <= table["ST_conf"].to_numpy()).all()


def test_morris_gives_the_slopes_of_a_linear_function():
    free = [FreeParam("a", 0.0, 1.0, "t"), FreeParam("b", 0.0, 1.0, "t"), FreeParam("c", -1.0, 1.0, "t")]

    def evaluate(X):  # slopes 2, 0, -5 per unit of each parameter
        return {"f": 2 * X[:, 0] - 5 * X[:, 2]}

    table, X, Y = sensitivity(free, evaluate, "morris", 10, seed=0, progress=lambda _: None)
    # SALib's elementary effects are per unit of the range scaled to [0, 1], so for a linear
    # function mu* is |slope| x range width (the change across the whole range): 2 x 1,
    # 0, 5 x 2; every effect of a parameter is the same, so sigma is 0
    assert table["mu_star"].to_numpy() == pytest.approx([2.0, 0.0, 10.0])
    assert table["mu"].to_numpy() == pytest.approx([2.0, 0.0, -10.0])
    assert table["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def short_scenario(tmp_path: Path) -> Path:
    """Shangluo, 2016-2017, 1,000 household rows, microcredit switched off, and no exit
    plan: every qualifying household exits, so exits follow the measurement."""
    text = (REPO / "experiments" / "scenarios" / "shangluo.toml").read_text(encoding="utf-8")
    text = text.replace("[overrides]\n", '[overrides]\n"exit.plan_rule" = "qualifying"\n')
    text = re.sub(r"^end_year\s*=.*$", "end_year = 2017", text, flags=re.M)
    text = re.sub(r"^households\s*=.*$", "households = 1000", text, flags=re.M)
    text = re.sub(r"^microcredit\s*=.*$", "microcredit = false", text, flags=re.M)
    path = tmp_path / "no_credit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_parameter_the_model_ignores_has_zero_total_index_and_reruns_resume(tmp_path, capsys):
    scenario = short_scenario(tmp_path)
    out_dir = tmp_path / "sens"
    # microcredit is off, so nothing reads microcredit.takeup_base; the measurement error of
    # the register changes who is registered, exits and receives measures (returns are all 0
    # this early: no household can exit and return within two years)
    argv = ["sensitivity", scenario, "--method", "sobol", "--n", 8, "--seeds", 1,
            "--params", "microcredit.takeup_base,register.measurement_error_sd",
            "--outputs", "exits,fiscal_cost", "--executor", "serial", "--out", out_dir]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "32/32 points evaluated" in err  # 8 x (2 + 2) points, progress on stderr
    table = pd.read_csv(out_dir / "sensitivity.csv")
    assert list(table.columns[:6]) == ["param", "output", "S1", "S1_conf", "ST", "ST_conf"]
    ignored = table[table["param"] == "microcredit.takeup_base"]
    used = table[table["param"] == "register.measurement_error_sd"]
    # Common random numbers: points that differ only in an ignored parameter give identical
    # runs, so every difference the total-index estimator sees is exactly zero.
    assert (ignored["ST"].abs() < 1e-12).all()
    assert (used["ST"] > 0.5).all()  # the only parameter that matters explains the variance
    samples = pd.read_csv(out_dir / "samples.csv")
    assert len(samples) == 32 and {"exits", "fiscal_cost"} <= set(samples.columns)
    assert (out_dir / "figures" / "sensitivity.png").stat().st_size > 10_000
    info = json.loads((out_dir / "sensitivity.json").read_text())
    assert info["runs_done"] == 32 and info["runs_reused"] == 0
    # eight base samples cannot pin the indices down: said on stderr and in sensitivity.json
    wide = {o for o in ("exits", "fiscal_cost") if table[table["output"] == o][["S1_conf", "ST_conf"]].max().max() > 0.1}
    assert len(info["warnings"]) == len(wide) and all(f"{o}: indices unreliable at N = 8" in err for o in wide)

    # rerun: every run is found in the store, nothing runs again, same indices
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "0 runs done, 32 already stored" in out
    pd.testing.assert_frame_equal(pd.read_csv(out_dir / "sensitivity.csv"), table)


@pytest.mark.parametrize("argv, expect", [
    (["--n", "12"], r"--n: 12 is not a power of 2, which Sobol's sequence needs \(try 8 or 16\)"),
    (["--outputs", "exit"], r"--outputs: unknown output 'exit' \(did you mean 'exits'\?\)"),
    (["--params", "register.measurement_eror_sd"], r"--params: .*did you mean 'register\.measurement_error_sd'"),
    (["--method", "morris", "--params", "exit.target_pressure"], r"Morris screening needs at least two parameters"),
    (["--method", "fast"], r"argument --method: invalid choice"),
    (["--n", "2"], r"--n: 2 base samples are too few for sobol: the indices would be noise; give at least 8"),
    (["--method", "morris", "--n", "3"], r"--n: 3 trajectories are too few for morris"),
])
def test_bad_sensitivity_options_exit_2_and_write_nothing(tmp_path, capsys, argv, expect):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(["sensitivity", short_scenario(tmp_path), "--executor", "serial",
                              "--out", out_dir, *argv], capsys)
    assert code == 2 and re.search(expect, err), err
    assert len(err.strip().splitlines()) == 1 and not out_dir.exists()


def test_reliability_warnings_name_the_output_and_the_widths():
    from experiments.cli_analysis import reliability_warnings

    sobol = pd.DataFrame({"param": ["a", "b", "a", "b"], "output": ["exits", "exits", "cost", "cost"],
                          "S1": [0.5, 0.1, 0.4, 0.3], "S1_conf": [0.02, 0.03, 105.7, 0.05],
                          "ST": [0.6, 0.2, 118.5, 0.4], "ST_conf": [0.04, 0.02, 0.2, 0.05], "note": ""})
    lines = reliability_warnings(sobol, "sobol", 2)
    assert lines == ["cost: indices unreliable at N = 2: confidence half-widths up to 1.1e+02 (S1) and 0.2 (ST), "
                     "against indices between 0 and 1; a larger --n narrows them (about 1/sqrt(N))"]
    morris = pd.DataFrame({"param": ["a", "b"], "output": ["exits", "exits"], "mu_star": [10.0, 2.0],
                           "mu_star_conf": [12.0, 1.0], "sigma": [1.0, 1.0], "mu": [1.0, 1.0], "note": ""})
    assert reliability_warnings(morris, "morris", 4)[0].startswith("exits: screening unreliable with 4 trajectories")
    assert reliability_warnings(morris.assign(mu_star_conf=[3.0, 1.0]), "morris", 4) == []
