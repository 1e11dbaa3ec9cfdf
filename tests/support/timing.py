"""Time bounds for tests that run on a loaded machine (two cores shared by several test runs).

A test that proves a step ends at its timeout asserts ``timeout <= elapsed < timeout + SLACK``; one that
proves a step ends at once, without waiting for its timeout, gives the step a ``PATIENT`` timeout and
asserts ``elapsed < SLACK``. What they tell apart stays far apart: the test servers keep a client busy
for 30 s, and a step that wrongly waited would wait ``PATIENT`` seconds.
"""

from __future__ import annotations

SLACK = 2.0
"""Seconds a step may overrun what it should take: thread scheduling on a busy machine, not the code."""
PATIENT = 10.0
"""A timeout long enough that a step ending before ``SLACK`` cannot have waited for it."""
