"""The credit and default-risk specialist's tools.

``assess_credit`` turns one customer's accounts and repayments into a
:class:`tools.findings.CreditFinding` (utilisation, debt, debt-to-income, payment
history, and with a model the default probability, risk band and reason codes);
``credit_for_customer`` reads the rows from a ``BankStore`` first; ``score_book``
scores a whole book at once. ``ensure_risk_model`` gives the shipped model, trained on
the store's data on first use. Protected attributes never reach a model: see
:mod:`tools.credit.protected`.
"""

from tools.credit.assess import (
    as_langchain_tools,
    assess_credit,
    credit_for_customer,
    model_features,
    profile_of,
    score_book,
)
from tools.credit.bank import (
    BankFrames,
    TrainingSet,
    bank_training_set,
    ensure_risk_model,
    frames_from_folder,
    frames_from_store,
    load_default_labels,
    proxy_default_target,
    risk_model_dir,
    train_bank_model,
)
from tools.credit.evaluation import (
    CrossValidationReport,
    EvaluationReport,
    GroupMetrics,
    cross_validate,
    evaluate_model,
    evaluate_predictions,
)
from tools.credit.features import (
    BANK_LAYOUT,
    BANK_LAYOUT_WITH_TRANSACTIONS,
    LAYOUTS,
    UCI_LAYOUT,
    FeatureInputError,
    FeatureLayout,
    bank_features,
    read_uci_csv,
    uci_features,
)
from tools.credit.model import (
    RISK_BAND_CUTOFFS,
    ModelCard,
    RiskModel,
    TrainParams,
    choose_threshold,
    risk_band,
    risk_bands,
    train_risk_model,
)
from tools.credit.protected import ProtectedFeatureError, assert_no_protected_features, protected_features
from tools.credit.reasons import REASON_TEXTS, reason_codes
from tools.credit.utilisation import (
    PaymentHistory,
    account_utilisation,
    card_minimum_payment,
    credit_accounts,
    credit_summary,
    debt_to_income,
    payment_history,
)

__all__ = [
    "BANK_LAYOUT", "BANK_LAYOUT_WITH_TRANSACTIONS", "LAYOUTS", "REASON_TEXTS", "RISK_BAND_CUTOFFS", "UCI_LAYOUT",
    "BankFrames", "CrossValidationReport", "EvaluationReport", "FeatureInputError", "FeatureLayout",
    "GroupMetrics",
    "ModelCard", "PaymentHistory", "ProtectedFeatureError", "RiskModel", "TrainParams", "TrainingSet",
    "account_utilisation", "as_langchain_tools", "assert_no_protected_features", "assess_credit", "bank_features",
    "bank_training_set", "card_minimum_payment", "choose_threshold", "credit_accounts", "credit_for_customer",
    "credit_summary", "cross_validate", "debt_to_income", "ensure_risk_model", "evaluate_model",
    "evaluate_predictions", "frames_from_folder", "frames_from_store", "load_default_labels", "model_features",
    "payment_history", "profile_of", "protected_features", "proxy_default_target", "read_uci_csv", "reason_codes",
    "risk_band", "risk_bands", "risk_model_dir", "score_book", "train_bank_model", "train_risk_model",
    "uci_features",
]
