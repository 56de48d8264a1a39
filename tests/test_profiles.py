"""Region profiles: every shipped profile loads, carries the digest's registers, cites a
source for every number, and bad input fails with a message naming file, path and fix."""

from __future__ import annotations

import pytest

from sim.errors import InputError
from sim.profiles import PROFILE_DIR, available_profiles, load_profile

EXPECTED_PROFILES = {"guangdong", "guangyuan", "nanning", "national", "shangluo"}

# Registers, written out by hand from the policy digest and facts.md (not read from the files).
# households: the seed's count where it gives one (Guangdong, national), else people / 3.04.
REGISTERS = {
    #             people      households  poor_villages
    "nanning":   (503_000,    165_461,    421),      # 000 §二(一); 503,000 / 3.04
    "guangdong": (1_765_000,  708_000,    2_277),    # 002 §2
    "guangyuan": (296_100,    97_401,     739),      # 003 §二(二); 296,100 / 3.04
    "shangluo":  (489_000,    160_855,    699),      # 004 ch.1 §3; 489,000 / 3.04
    "national":  (89_620_000, 29_480_000, 128_000),  # facts.md: The national register
}


def test_the_five_profiles_are_available():
    assert EXPECTED_PROFILES <= set(available_profiles())


@pytest.mark.parametrize("name", available_profiles())
def test_every_available_profile_loads(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.file.endswith(f"{name}.toml")


@pytest.mark.parametrize("name", sorted(REGISTERS))
def test_register_matches_the_digest(name):
    people, households, poor_villages = REGISTERS[name]
    profile = load_profile(name)
    assert profile.value("register.people") == people
    assert profile.value("register.households") == households
    assert profile.value("register.poor_villages") == poor_villages


def test_households_without_a_seed_count_use_the_national_household_size():
    for name in ("nanning", "guangyuan", "shangluo"):
        profile = load_profile(name)
        people = profile.value("register.people")
        assert profile.value("register.households") == round(people / 3.04)
        assert profile.source("register.households").startswith("assumption:")


def _sourced_entries(node, path=""):
    """(dotted path, entry) for every table holding a value or values, anywhere in the data."""
    if isinstance(node, dict):
        if "value" in node or "values" in node:
            yield path, node
            return
        for key, sub in node.items():
            yield from _sourced_entries(sub, f"{path}.{key}" if path else str(key))


@pytest.mark.parametrize("name", available_profiles())
def test_every_number_has_a_source(name):
    profile = load_profile(name)
    entries = list(_sourced_entries(profile.data))
    assert len(entries) >= 25  # register, population, sampling, location, exit at least
    for path, entry in entries:
        source = entry.get("source")
        assert isinstance(source, str) and source.strip(), f"{name}: {path} has no source"
    for path, entry in profile.parameter_overrides.items():
        assert isinstance(entry, dict) and str(entry.get("source", "")).strip(), \
            f"{name}: parameters.{path} has no source"


@pytest.mark.parametrize("name", available_profiles())
def test_assumptions_say_why(name):
    """A source that is an assumption gives a reason after the colon."""
    profile = load_profile(name)
    for path, entry in _sourced_entries(profile.data):
        source = entry["source"]
        if source.startswith("assumption"):
            assert source.startswith("assumption: ") and len(source) > len("assumption: ") + 10, \
                f"{name}: {path}: an assumption needs a reason"


def test_guangdong_exit_is_relative_to_the_provincial_average():
    gd = load_profile("guangdong")
    assert gd.value("exit.rule") == "relative"
    assert gd.value("exit.relative_share") == pytest.approx(0.45)
    assert gd.dated("exit.reference_income", 2018) == pytest.approx(16_367)
    # 45% of the 2018 average is the seed's 7,365 yuan, 60% its 9,820 (002 §3)
    assert 0.45 * gd.dated("exit.reference_income", 2018) == pytest.approx(7_365, abs=1)
    assert gd.value("exit.village_rule") == "relative_income"
    assert gd.value("exit.village_income_share") == pytest.approx(0.6)
    assert 0.6 * gd.dated("exit.reference_income", 2018) == pytest.approx(9_820, abs=1)
    # earlier years back at 7% a year
    assert gd.dated("exit.reference_income", 2017) == pytest.approx(16_367 / 1.07, abs=1)
    assert gd.dated("exit.reference_income", 2016) == pytest.approx(16_367 / 1.07**2, abs=1)


def test_guangdong_overrides_the_national_line_and_growth():
    gd = load_profile("guangdong")
    assert gd.parameter_overrides["poverty.line"]["value"] == 4000
    assert gd.parameter_overrides["economy.income_growth"]["value"] == pytest.approx(0.07)
    assert not gd.western
    # the yearly exits add up to the whole register (002 §3)
    assert sum(gd.value("targets.exits_people").values()) == gd.value("register.people")


def test_national_samples_the_rest_and_keeps_the_register_whole():
    nat = load_profile("national")
    assert nat.value("sampling.registered") == 1
    assert nat.value("sampling.other") < 1
    assert nat.value("register.poor_counties") == 832
    assert nat.source("population.rural_people").startswith("assumption:")
    assert not nat.western


def test_western_regions_use_the_western_exit_rule():
    for name in ("nanning", "guangyuan", "shangluo"):
        profile = load_profile(name)
        assert profile.western
        assert profile.value("exit.village_incidence") == pytest.approx(0.03)
    assert load_profile("guangyuan").value("taxonomy") == "guangyuan"


# --- bad input -------------------------------------------------------------------------

def _shangluo_text() -> str:
    return (PROFILE_DIR / "shangluo.toml").read_text(encoding="utf-8")


def _write_variant(tmp_path, old: str, new: str):
    text = _shangluo_text()
    assert text.count(old) == 1, f"fixture text {old!r} not found exactly once"
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_misspelt_key_names_file_path_and_the_right_spelling(tmp_path):
    path = _write_variant(tmp_path, "poor_villages = { value = 699", "poor_vilages = { value = 699")
    with pytest.raises(InputError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message
    assert "register.poor_vilages" in message
    assert "poor_villages" in message.split("register.poor_vilages", 1)[1]
    assert info.value.path == "register.poor_vilages"


def test_share_given_as_a_percentage_is_rejected(tmp_path):
    path = _write_variant(tmp_path, "share_of_poor_in_poor_villages = { value = 0.6",
                          "share_of_poor_in_poor_villages = { value = 70")
    with pytest.raises(InputError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message
    assert "population.share_of_poor_in_poor_villages" in message
    assert "70" in message


def test_unknown_profile_name_suggests_the_nearest(tmp_path):
    with pytest.raises(InputError) as info:
        load_profile("guangdon")
    assert "guangdong" in str(info.value)
