"""Ballots arrive with the voting issue; the app exists so the layout is stable."""
