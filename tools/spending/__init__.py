"""The spending specialist's tools: plain functions over a customer's transactions.

``analyse_spending`` runs them all and returns a :class:`tools.findings.SpendingFinding`;
``spending_for_customer`` reads the transactions from a ``BankStore`` first. The
book-wide pieces (``book_category_shares``, ``build_book_reference``, ``train_segmenter``,
``ensure_segmenter``) work on the whole transactions table.
"""

from tools.spending.alerts import overspending_alerts
from tools.spending.analysis import analyse_spending, as_langchain_tools, customer_shares, spending_for_customer
from tools.spending.anomalies import suspicious_transactions
from tools.spending.book import BookReference, build_book_reference
from tools.spending.budget import budget_plan, observed_monthly_income
from tools.spending.categories import category_trends, monthly_by_category, spend_by_category, top_merchants
from tools.spending.ledger import Ledger
from tools.spending.recurring import detect_recurring, recurring_payments_of, stream_rows, subscriptions_of
from tools.spending.segments import (
    Segmenter,
    book_category_shares,
    ensure_segmenter,
    load_segmenter,
    segmenter_path,
    train_segmenter,
)
from tools.spending.services import service_families

__all__ = [
    "BookReference", "Ledger", "Segmenter", "analyse_spending", "as_langchain_tools", "book_category_shares",
    "budget_plan", "build_book_reference", "category_trends", "customer_shares", "detect_recurring",
    "ensure_segmenter", "load_segmenter", "monthly_by_category", "observed_monthly_income", "overspending_alerts",
    "recurring_payments_of", "segmenter_path", "service_families", "spend_by_category", "spending_for_customer",
    "stream_rows", "subscriptions_of", "suspicious_transactions", "top_merchants", "train_segmenter",
]
