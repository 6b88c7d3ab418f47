"""Exceptions raised by the ML package, so callers can catch them by name."""

from __future__ import annotations


class SegmentationError(ValueError):
    """The input cannot be segmented at all (e.g. no usable feature, no customer id)."""


class HighValueLabelError(ValueError):
    """The high-value labels cannot train or validate a model.

    Raised when only one class is present, or a class has too few customers for
    cross-validation. The message says which; callers fall back to null scores.
    """
