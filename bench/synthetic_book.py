"""A synthetic book of customers for timing the book path of the product matcher.

Each column is drawn independently (no per-customer findings are built), so books of
100,000 customers take seconds to make.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bank.knowledge import NEED_TAGS
from tools.products.features import stated_column

SEGMENTS = ("Frequent traveller", "Everyday spender", "Foodie", "")


def synthetic_features(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profiles and features of a book of ``n`` customers, ready for ``match_products_book``."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C-{i:06d}" for i in range(n)], dtype=object)
    profiles = pd.DataFrame(
        {
            "customer_id": ids,
            "annual_income": rng.lognormal(10.6, 0.5, n).round(-2),
            "tenure_months": rng.integers(0, 240, n).astype(float),
            "consent_marketing": rng.random(n) < 0.8,
            "consent_social": rng.random(n) < 0.4,
            "age": rng.integers(18, 90, n).astype(float),
        }
    )
    revolving_limit = rng.choice([0.0, 2_000.0, 5_000.0, 10_000.0], n)
    revolving_balance = revolving_limit * rng.uniform(0, 1, n)
    apr = rng.uniform(18, 30, n)
    features = pd.DataFrame(
        {
            "customer_id": ids,
            "risk_band": rng.choice(list("ABCDE"), n, p=[0.3, 0.3, 0.2, 0.12, 0.08]),
            "monthly_debt_payments": rng.uniform(0, 2_000, n),
            "utilisation": np.where(
                revolving_limit > 0, revolving_balance / np.maximum(revolving_limit, 1), np.nan
            ),
            "late_30_plus_3m": rng.poisson(0.05, n).astype(float),
            "late_30_plus_6m": rng.poisson(0.1, n).astype(float),
            "late_30_plus_12m": rng.poisson(0.2, n).astype(float),
            "worst_days_late": rng.choice([0, 0, 0, 20, 45, 70], n),
            "cash_savings": rng.lognormal(8.5, 1.2, n),
            "revolving_balance": revolving_balance,
            "revolving_limit": revolving_limit,
            "card_interest_monthly": revolving_balance * apr / 1200,
            "revolving_apr_max": np.where(revolving_balance > 0, apr, np.nan),
            "transferable_balance": np.where(rng.random(n) < 0.1, rng.uniform(500, 5_000, n), 0.0),
            "transferable_interest_monthly": 0.0,
            "unsecured_loan_balance": rng.choice([0.0, 5_000.0], n),
            "consolidatable_balance": revolving_balance + rng.choice([0.0, 5_000.0], n),
            "consolidatable_payment": 0.03 * revolving_balance + rng.choice([0.0, 180.0], n),
            "has_credit_account": revolving_limit > 0,
            "income_paid_in": rng.uniform(500, 7_000, n),
            "monthly_spend": rng.uniform(800, 6_000, n),
            "essential_spend": rng.uniform(400, 3_000, n),
            "savings_capacity": rng.uniform(0, 600, n),
            "travel_spend": rng.exponential(150, n),
            "everyday_spend": rng.uniform(100, 1_200, n),
            "fees_spend": rng.exponential(5, n),
            "gambling_spend": rng.exponential(10, n),
            "subscriptions_count": rng.integers(0, 10, n).astype(float),
            "subscriptions_cost": rng.uniform(0, 120, n),
            "segment": rng.choice(list(SEGMENTS), n),
            "open_complaints": (rng.random(n) < 0.03).astype(float),
            "vulnerability_signals": (rng.random(n) < 0.04) * 1.0,
            "vulnerability_notes": "",
            "held": rng.choice(["|CC-CLASSIC|CHK-ESSENTIAL|", "|SAV-EASY|", "|"], n),
        }
    )
    features["transferable_interest_monthly"] = features["transferable_balance"] * apr / 1200
    for tag in NEED_TAGS:
        features[stated_column(tag)] = np.where(rng.random(n) < 0.05, rng.uniform(0.3, 1.0, n), 0.0)
    return profiles, features
