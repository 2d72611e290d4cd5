"""How much an accuracy measured on n test images can be trusted: the Wilson score interval.

An accuracy of 83.33 % on 6 test images is 5 of 6; one image more or less right moves it by 17 points. The
Wilson interval (Wilson 1927) is the usual honest interval for a proportion on few trials: unlike the normal
approximation it stays inside [0, 1] and does not shrink to nothing at 0 or n successes.

>>> low, high = wilson_interval(5, 6)
>>> round(low, 3), round(high, 3)
(0.436, 0.97)
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""
FEW_TEST_IMAGES = 100
"""Below this many test images, summaries and reports say that the accuracy is uncertain (at 100 images and
80 % accuracy the 95 % interval is still 71-87 %)."""


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``successes / n`` (95 % by default); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_interval(accuracy: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval of an accuracy measured on ``n`` images."""
    return wilson_interval(round(accuracy * n), n)


def describe_accuracy(accuracy: float, n: int) -> str:
    """``83.33 % on 6 test images (95 % interval 43.6-97.0 %)``, plus a warning below :data:`FEW_TEST_IMAGES`."""
    low, high = accuracy_interval(accuracy, n)
    text = f"{100 * accuracy:.2f} % on {n} test images (95 % interval {100 * low:.1f}-{100 * high:.1f} %)"
    if n < FEW_TEST_IMAGES:
        text += (f"; uncertain: fewer than {FEW_TEST_IMAGES} test images, one image is "
                 f"{100 / max(n, 1):.1f} points (more images, or --folds N, measure it better)")
    return text
