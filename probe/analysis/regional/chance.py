"""How likely ``k`` or more of ``n`` probes fail together by chance (a Poisson-binomial tail).

Each probe fails independently with its own probability (its usual rate at that hour of the day,
``availability``); the number failing follows a Poisson-binomial law, whose tail is computed
exactly by the usual dynamic programme over the probes (``O(n²)``, n is a group's size).
Independence is the assumption a real cut breaks: a small tail says "not chance", not "a cut".
"""

from __future__ import annotations

from collections.abc import Sequence


def tail(probabilities: Sequence[float], at_least: int) -> float:
    """P(at least ``at_least`` of independent events with these probabilities happen)."""
    if at_least <= 0:
        return 1.0
    if at_least > len(probabilities):
        return 0.0
    exactly = [1.0]  # exactly[j]: P(j events among the probes seen so far)
    for probability in probabilities:
        p = min(max(probability, 0.0), 1.0)
        following = [0.0] * (len(exactly) + 1)
        for count, weight in enumerate(exactly):
            following[count] += weight * (1 - p)
            following[count + 1] += weight * p
        exactly = following
    return min(1.0, max(0.0, sum(exactly[at_least:])))
