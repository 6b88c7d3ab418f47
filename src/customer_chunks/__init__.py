"""Customer Chunks: a SQL-native customer segmentation warehouse."""

__version__ = "0.1.0"
