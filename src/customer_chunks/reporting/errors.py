"""The one error type of the report renderer."""

from __future__ import annotations

from customer_chunks.errors import CustomerChunksError


class ReportError(CustomerChunksError):
    """A report could not be rendered. The message is one line naming the document,
    the step (cell, kernel, Typst, dashboard) and the fix; ``traceback`` keeps the
    cell's Python traceback when there is one."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback
