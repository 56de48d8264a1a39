"""What a measure declares about itself, and the order of the measures derived from it.

A measure is a module of `policies/` with a `MEASURE = MeasureSpec(...)`: its name, the
phase of the year it acts in, whether it is on by default, its batch in each five-batches
taxonomy, and a description. Its module also says which household columns it reads and
writes (`FIELDS_READ`, `FIELDS_WRITTEN`), the flows it reads (`READS`) and its own (`FLOWS`),
and, where nothing else fixes it, which measures it acts before (`ACTS_BEFORE`). `ordered`
turns these into the order the measures act in; no list of measures is written anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import asdict, dataclass, replace

# The phases of the measures' part of the year, in order. A measure names one; within a
# phase the declarations order the measures (`ordered`).
PHASES = {
    "costs": "what this year's illness costs the household, and what covers it",
    "skills": "members' skills, which work uses from the next year",
    "jobs": "jobs and placements, and the wages they pay",
    "production": "farm, cooperative, asset and land income",
    "schooling": "support for pupils and students",
    "housing": "houses rebuilt, renovated or left for a new one",
    "credit": "loans, which see the year's other incomes and costs",
    "means_test": "the floor, whose means test sees every income paid before it",
}


# The five batches (五个一批) a measure is reported under: the national taxonomy (004 ch.1
# §1) and Guangyuan's (003 §二(四)).
NATIONAL_BATCHES = ("industry_employment", "relocation", "education", "ecological", "social_security")
GUANGYUAN_BATCHES = ("production_employment", "relocation", "dibao", "medical", "disaster_reconstruction")
BATCH_NAMES = tuple(dict.fromkeys(NATIONAL_BATCHES + GUANGYUAN_BATCHES))


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    phase: str  # one of PHASES
    default_on: bool
    batch: str  # batch in the national taxonomy (004 ch.1 §1)
    batch_guangyuan: str  # batch in Guangyuan's taxonomy (003 §二(四))
    description: str
    entitlement: bool = False  # a transfer or insurance already shaping the start year's incomes
    module_name: str = ""  # its module in the measures' package, set when it is found

    @property
    def module(self):
        return importlib.import_module(self.module_name)


class MeasureOrderError(ValueError):
    """The measures' declarations contradict each other or leave an order open that matters."""


def discover(package: str) -> dict[str, MeasureSpec]:
    """Every measure of the package (a module with `MEASURE`), in the order they act."""
    pkg = importlib.import_module(package)
    found = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package}.{info.name}")
        spec = getattr(module, "MEASURE", None)
        if isinstance(spec, MeasureSpec):
            found.append((replace(spec, module_name=module.__name__), module))
    for spec, module in found:
        if spec.batch not in NATIONAL_BATCHES or spec.batch_guangyuan not in GUANGYUAN_BATCHES:
            raise MeasureOrderError(f"{module.__name__}: MEASURE's batches '{spec.batch}', '{spec.batch_guangyuan}' "
                                    f"are not of {NATIONAL_BATCHES} and {GUANGYUAN_BATCHES}")
    names = [spec.name for spec, _ in found]
    if len(set(names)) != len(names):
        raise MeasureOrderError(f"two measures of '{package}' share a name: {sorted(names)}")
    by_name = {spec.name: spec for spec, _ in found}
    return {name: by_name[name] for name in ordered(found)}


@dataclass(frozen=True)
class Declared:
    """What a measure's module declares about its step, read by the order and by the plan."""
    reads: tuple[str, ...]           # flows it needs written earlier this year
    writes: tuple[str, ...]          # flows its step writes: reached_<name>, then its own (not those it announces)
    fields_read: tuple[str, ...]     # household columns whose values must include other measures' writes
    fields_written: tuple[str, ...]  # household columns it may write
    acts_before: tuple[str, ...]     # measures it acts before, where nothing else fixes the order


def declared(module) -> Declared:
    announced = set(getattr(module, "ANNOUNCES", ()))
    return Declared(
        reads=tuple(getattr(module, "READS", ())),
        writes=(f"reached_{module.MEASURE.name}",
                *(f.name for f in getattr(module, "FLOWS", ()) if f.name not in announced)),
        fields_read=tuple(getattr(module, "FIELDS_READ", ())),
        fields_written=tuple(getattr(module, "FIELDS_WRITTEN", ())),
        acts_before=tuple(getattr(module, "ACTS_BEFORE", ())),
    )


def ordered(measures: list) -> list[str]:
    """The names of (spec, module) pairs in the order they act: by phase; within a phase, a
    measure reading a column or flow another writes acts after it unless it declares that it
    acts before it (`ACTS_BEFORE`). Measures left unordered act by name; that is refused
    where it would matter, when two of them read or write a common column."""
    phase_rank = {name: k for k, name in enumerate(PHASES)}
    decl, phase = {}, {}
    for spec, module in measures:
        if spec.phase not in PHASES:
            raise MeasureOrderError(f"{module.__name__}: MEASURE.phase '{spec.phase}' is not one of "
                                    f"{', '.join(PHASES)}")
        decl[spec.name] = {key: set(names) for key, names in asdict(declared(module)).items()}
        phase[spec.name] = spec.phase
    problems = []
    for name, d in decl.items():
        for other in sorted(d["acts_before"]):
            if other not in decl:
                problems.append(f"'{name}' declares it acts before '{other}', which is not a measure")
            elif phase_rank[phase[other]] < phase_rank[phase[name]]:
                problems.append(f"'{name}' ({phase[name]}) declares it acts before '{other}', whose phase "
                                f"({phase[other]}) comes earlier")
    if problems:
        raise MeasureOrderError("; ".join(problems))
    out = []
    for current in PHASES:
        members = sorted(n for n in decl if phase[n] == current)
        out += _phase_order(members, decl, problems)
    if problems:
        raise MeasureOrderError("; ".join(problems))
    return out


def _phase_order(members: list[str], decl: dict, problems: list[str]) -> list[str]:
    after = {n: set() for n in members}  # after[b]: the members b must follow
    for a in members:
        for b in members:
            if a == b:
                continue
            if b in decl[a]["acts_before"]:
                after[b].add(a)
            elif a not in decl[b]["acts_before"] and (decl[b]["fields_read"] & decl[a]["fields_written"]
                                                     or decl[b]["reads"] & decl[a]["writes"]):
                after[b].add(a)
    order, left = [], set(members)
    while left:
        ready = sorted(n for n in left if not (after[n] & left))
        if not ready:
            problems.append(f"measures {', '.join(sorted(left))} each read what another writes; declare "
                            "ACTS_BEFORE in one of them")
            return order + sorted(left)
        order.append(ready[0])
        left.discard(ready[0])
    _check_determined(order, after, decl, problems)
    return order


def _check_determined(order: list[str], after: dict, decl: dict, problems: list[str]) -> None:
    """Two measures of a phase that share a column must be ordered by a declaration, not by name."""
    before = {n: set() for n in order}  # before[b]: every member that must precede b
    for b in order:
        stack = list(after[b])
        while stack:
            a = stack.pop()
            if a not in before[b]:
                before[b].add(a)
                stack.extend(after[a])
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if a in before[b]:
                continue
            da, db = decl[a], decl[b]
            shared = (da["fields_written"] & db["fields_written"]) | (da["fields_read"] & db["fields_written"]) \
                | (db["fields_read"] & da["fields_written"])
            if shared:
                problems.append(f"the order of '{a}' and '{b}' is left open but matters: both use "
                                f"{', '.join(sorted(shared))}; declare ACTS_BEFORE in one of them")
