"""A slow tier that a machine may lack (Chromium, a font, PostgreSQL, Redis, nginx...):
left out as a whole and said so in one line, never a misleading failure.

A tier's conftest.py makes one `OptionalTier` and exposes its three hooks:

    tier = OptionalTier("browser", skip_reason)
    pytest_collection_modifyitems = tier.collection_modifyitems
    pytest_sessionfinish = tier.sessionfinish
    pytest_terminal_summary = tier.terminal_summary
"""

from collections.abc import Callable

import pytest


class OptionalTier:
    def __init__(self, marker: str, skip_reason: Callable[[], str | None]):
        self.marker = marker
        self.skip_reason = skip_reason
        self.key = pytest.StashKey[str]()

    @pytest.hookimpl(trylast=True)  # after `-m`: a tier nobody selected is not mentioned
    def collection_modifyitems(self, config, items) -> None:
        """Without a prerequisite the tier's tests are deselected and the reason kept."""
        tier = [item for item in items if item.get_closest_marker(self.marker)]
        if not tier or (reason := self.skip_reason()) is None:
            return
        items[:] = [item for item in items if not item.get_closest_marker(self.marker)]
        config.hook.pytest_deselected(items=tier)
        config.stash[self.key] = f"SKIPPED {self.marker} tier ({len(tier)} tests): {reason}"

    def sessionfinish(self, session, exitstatus) -> None:
        """`-m <tier>` alone on a machine without it: nothing ran, and that is no failure."""
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and self.key in session.config.stash:
            session.exitstatus = pytest.ExitCode.OK

    def terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if line := config.stash.get(self.key, None):
            terminalreporter.write_line(line, yellow=True)
