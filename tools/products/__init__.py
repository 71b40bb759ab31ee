"""Product matching: eligibility, affordability, suitability, fit and price tier per customer,
and the same rules vectorised over a whole book."""

from tools.products.features import (
    FEATURE_COLUMNS,
    PROFILE_COLUMNS,
    Holdings,
    features_from_findings,
    holdings_frame,
    holdings_from_accounts,
    profile_features,
    profiles_frame,
)
from tools.products.feedback import FeedbackAdjustments, OfferOutcomes
from tools.products.matcher import BOOK_COLUMNS, match_products, match_products_book
from tools.products.service import as_langchain_tools, products_for_customer, profile_from_store

__all__ = [
    "BOOK_COLUMNS",
    "FEATURE_COLUMNS",
    "PROFILE_COLUMNS",
    "FeedbackAdjustments",
    "Holdings",
    "OfferOutcomes",
    "as_langchain_tools",
    "features_from_findings",
    "holdings_frame",
    "holdings_from_accounts",
    "match_products",
    "match_products_book",
    "products_for_customer",
    "profile_features",
    "profile_from_store",
    "profiles_frame",
]
