"""The protected-attribute guard, reason codes, risk bands and the UCI feature layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools.credit.features import (
    BANK_LAYOUT,
    BANK_LAYOUT_WITH_TRANSACTIONS,
    UCI_LAYOUT,
    FeatureInputError,
    FeatureLayout,
    FeatureSpec,
    looks_like_uci,
    normalise_uci_columns,
    uci_features,
)
from tools.credit.model import (
    RISK_BAND_CUTOFFS,
    TrainParams,
    choose_threshold,
    risk_band,
    risk_bands,
    train_risk_model,
)
from tools.credit.protected import ProtectedFeatureError, assert_no_protected_features, protected_features
from tools.credit.reasons import REASON_TEXTS, reason_codes, reason_codes_frame


@pytest.mark.parametrize("name", [
    "SEX", "AGE", "MARRIAGE", "gender", "birth_date", "marital_status", "region", "postcode", "Gender",
    "applicant_age", "customerGender", "date_of_birth", "zip_code", "X2", "X4", "X5", "age_band", "post_code",
])
def test_protected_names_and_aliases_are_refused(name):
    with pytest.raises(ProtectedFeatureError):
        assert_no_protected_features(["utilisation_overall", name])


def test_the_shipped_layouts_hold_no_protected_feature():
    for layout in (UCI_LAYOUT, BANK_LAYOUT, BANK_LAYOUT_WITH_TRANSACTIONS):
        assert protected_features(layout.features) == []
    assert "EDUCATION" not in UCI_LAYOUT.features and "education" not in UCI_LAYOUT.features


def test_a_layout_with_a_protected_feature_cannot_be_declared():
    with pytest.raises(ProtectedFeatureError):
        FeatureLayout("bad", (FeatureSpec("utilisation_overall", "R01"), FeatureSpec("marital_status", "R02")))


def test_training_refuses_a_frame_with_a_protected_column():
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.random((200, len(BANK_LAYOUT.features))), columns=BANK_LAYOUT.features)
    target = (rng.random(200) < 0.3).astype(int)
    with pytest.raises(ProtectedFeatureError):
        train_risk_model(features.assign(gender=1.0), target, BANK_LAYOUT, "t", params=TrainParams(folds=2))


def test_reason_codes_sum_by_reason_rank_by_contribution_and_keep_only_adverse_ones():
    contributions = {"utilisation_overall": 0.4, "utilisation_max": 0.3, "late_12m": 0.5, "annual_income": -0.2,
                     "months_since_late": 0.06, "debt_to_income": 0.1, "missed_12m": 0.03}
    feature_reasons = BANK_LAYOUT.reasons
    values = {"utilisation_overall": 0.93, "utilisation_max": 1.02, "late_12m": 3, "debt_to_income": 0.45}
    codes = reason_codes(contributions, values, feature_reasons, top=4)
    assert [c.code for c in codes] == ["R01", "R02", "R07", "R03"]
    assert codes[0].contribution == pytest.approx(0.7) and codes[0].feature == "utilisation_overall"
    assert codes[0].text == "Proportion of balances to credit limits is too high"
    assert codes[1].text == "Number of recent delinquent payments" and codes[1].value == 3
    assert all(a.contribution >= b.contribution for a, b in zip(codes, codes[1:]))
    assert "R12" not in [c.code for c in codes]  # income lowered the risk here
    assert "R13" not in [c.code for c in reason_codes(contributions, values, feature_reasons, top=10)]  # too small
    assert len(reason_codes(contributions, values, feature_reasons, top=2)) == 2


def test_vectorised_reason_codes_agree_with_the_per_row_ones():
    rng = np.random.default_rng(3)
    features = BANK_LAYOUT.features
    matrix = rng.normal(size=(50, len(features)))
    frame = reason_codes_frame(matrix, features, BANK_LAYOUT.reasons, top=4)
    for i in range(50):
        expected = [c.code for c in reason_codes(dict(zip(features, matrix[i])), {}, BANK_LAYOUT.reasons, 4)]
        got = [c for c in frame.iloc[i].tolist() if c is not None]
        assert got == expected


def test_every_reason_of_every_layout_has_a_phrasing():
    for layout in (UCI_LAYOUT, BANK_LAYOUT_WITH_TRANSACTIONS):
        assert set(layout.reasons.values()) <= set(REASON_TEXTS)


def test_risk_bands_follow_the_documented_cutoffs():
    assert [upper for _, upper in RISK_BAND_CUTOFFS[:-1]] == [0.02, 0.05, 0.10, 0.20]
    probabilities = np.array([0.0, 0.019, 0.02, 0.049, 0.05, 0.099, 0.1, 0.199, 0.2, 0.9])
    expected = ["A", "A", "B", "B", "C", "C", "D", "D", "E", "E"]
    assert [risk_band(p) for p in probabilities] == expected
    assert risk_bands(probabilities).tolist() == expected


def test_threshold_moves_to_narrow_the_tpr_gap_but_stays_one_threshold():
    rng = np.random.default_rng(1)
    n = 4000
    groups = np.where(rng.random(n) < 0.5, "a", "b")
    target = (rng.random(n) < 0.25).astype(int)
    # group b's defaulters score lower: at the KS point its TPR lags
    probability = np.clip(0.25 + 0.3 * target - 0.12 * target * (groups == "b") + 0.2 * rng.normal(size=n), 0, 1)
    plain = choose_threshold(target, probability)
    fair = choose_threshold(target, probability, groups, tolerance=0.05)
    assert fair.tpr_gap_at_ks_threshold > 0.03
    assert fair.tpr_gap < fair.tpr_gap_at_ks_threshold
    assert plain.threshold == fair.ks_threshold and fair.threshold != fair.ks_threshold
    assert fair.meets_gap_target == (fair.tpr_gap <= 0.03)


def uci_rows() -> pd.DataFrame:
    header = ["ID", *[f"X{i}" for i in range(1, 24)], "Y"]
    rows = [
        [1, 20000, 2, 2, 1, 24, 2, 2, -1, -1, -2, -2, 3913, 3102, 689, 0, 0, 0, 0, 689, 0, 0, 0, 0, 1],
        [2, 90000, 2, 2, 2, 34, 0, 0, 0, 0, 0, 0, 29239, 14027, 13559, 14331, 14948, 15549, 1518, 1500, 1000,
         1000, 1000, 5000, 0],
    ]
    return pd.DataFrame(rows, columns=header)


def test_uci_columns_are_accepted_under_both_namings():
    coded = normalise_uci_columns(uci_rows())
    expected = {"LIMIT_BAL", "PAY_0", "BILL_AMT6", "PAY_AMT6", "default.payment.next.month", "SEX"}
    assert expected <= set(coded.columns)
    original = coded.rename(columns={"PAY_0": "PAY_1", "default.payment.next.month": "default payment next month"})
    again = normalise_uci_columns(original)
    assert "PAY_0" in again.columns and "default.payment.next.month" in again.columns
    assert looks_like_uci(list(uci_rows().columns)) and not looks_like_uci(["customer_id", "balance"])


def test_uci_features_are_computed_without_protected_columns():
    frame = normalise_uci_columns(uci_rows())
    features = uci_features(frame)
    assert list(features.columns) == UCI_LAYOUT.features
    first = features.iloc[0]
    assert first["credit_limit"] == 20000
    assert first["utilisation_1"] == pytest.approx(3913 / 20000)
    assert first["paid_to_bill_1"] == pytest.approx(0 / 3102)
    assert first["paid_to_bill_2"] == pytest.approx(689 / 689)
    assert first["months_delinquent"] == 2 and first["worst_delay"] == 2
    assert first["months_since_delinquency"] == 0 and first["months_unused"] == 2
    second = features.iloc[1]
    assert second["months_delinquent"] == 0 and second["months_since_delinquency"] == 6
    assert second["months_revolving"] == 6
    # changing the protected columns changes nothing
    changed = frame.assign(SEX=1, MARRIAGE=3, AGE=70)
    pd.testing.assert_frame_equal(uci_features(changed), features)


def test_uci_features_name_missing_columns():
    with pytest.raises(FeatureInputError, match="BILL_AMT3"):
        uci_features(normalise_uci_columns(uci_rows()).drop(columns=["BILL_AMT3"]))
