"""Behaviour: a year of household life, household choices, villages and counties, and the
county government that runs the register."""
