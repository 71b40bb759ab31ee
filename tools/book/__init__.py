"""Book-wide jobs without an LLM: next-best offers, product target lists, alerts and the
spending-segment report, with the specialists' own rules over every customer at once."""

from tools.book.findings import BookFindings, BookModels, BookTables, book_findings, read_book
from tools.book.offers import (
    ALERT_COLUMNS,
    OFFER_COLUMNS,
    book_alerts,
    customers_for_product,
    next_best_offers,
)

__all__ = [
    "ALERT_COLUMNS", "OFFER_COLUMNS", "BookFindings", "BookModels", "BookTables", "book_alerts",
    "book_findings", "customers_for_product", "next_best_offers", "read_book",
]
