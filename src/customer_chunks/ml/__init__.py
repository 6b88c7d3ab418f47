"""Customer segmentation and high-value prediction on the customer feature table.

Entry points for the dbt Python models are :func:`run_segmentation` and
:func:`run_high_value` (module :mod:`customer_chunks.ml.pipeline`); each step also has
its own module (features, kmeans, hierarchical, dbscan, pca, validation, segments,
high_value) that can be used on its own.
"""

from customer_chunks.ml.exceptions import HighValueLabelError, SegmentationError
from customer_chunks.ml.pipeline import run_high_value, run_segmentation

__all__ = ["HighValueLabelError", "SegmentationError", "run_high_value", "run_segmentation"]
