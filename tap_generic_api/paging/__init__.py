"""Pagination: the paginators (each owns its state), the ``Link`` header, the page loops, the first-page check."""
