"""The county government's part of the year (step 3): identify the poor from last year's
measured resources and diagnose each registered household's causes."""

from __future__ import annotations

from sim.register import diagnose, identify


def govern(model) -> None:
    identify(model)
    diagnose(model)
