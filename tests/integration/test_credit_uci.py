"""The UCI layout on a 3,000-row slice of the shared "default of credit card clients" file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_dataset
from tools.credit import REASON_TEXTS, UCI_LAYOUT, RiskModel, cross_validate, train_risk_model, uci_features
from tools.credit.features import normalise_uci_columns, read_uci_csv

SLICE_ROWS = 3000


@pytest.fixture(scope="module")
def uci_slice(tmp_path_factory):
    source = shared_dataset("uci_credit_default/train.csv")
    path = tmp_path_factory.mktemp("uci") / "slice.csv"
    pd.read_csv(source, nrows=SLICE_ROWS).to_csv(path, index=False)
    return read_uci_csv(path)


@pytest.fixture(scope="module")
def uci_model(uci_slice):
    return train_risk_model(uci_features(uci_slice.frame), uci_slice.target, UCI_LAYOUT,
                            "default.payment.next.month", groups=uci_slice.sex)


def test_cross_validation_reports_auc_ks_brier_and_tpr_by_sex(uci_slice):
    report = cross_validate(uci_features(uci_slice.frame), uci_slice.target, UCI_LAYOUT,
                            "default.payment.next.month", uci_slice.sex, "SEX", folds=3)
    assert report.mean["auc"] > 0.72
    assert 0 < report.mean["ks"] < 1 and 0 < report.mean["brier"] < 0.25
    assert set(report.tpr_by_group) == {"female", "male"}
    assert report.mean["tpr_gap"] is not None and len(report.per_fold) == 3


def test_the_model_saves_loads_and_explains(uci_model, uci_slice, tmp_path):
    features = uci_features(uci_slice.frame)
    uci_model.save(tmp_path / "model")
    loaded = RiskModel.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(features), uci_model.predict_proba(features))
    assert loaded.card.fairness["tpr_gap"] is not None
    riskiest = features.iloc[[int(np.argmax(loaded.predict_proba(features)))]]
    (reasons,) = loaded.explain(riskiest)
    assert reasons and all(r.text == REASON_TEXTS[r.code] for r in reasons)
    assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)


def test_sex_age_and_marital_status_change_nothing(uci_model, uci_slice):
    frame = uci_slice.frame
    changed = frame.assign(SEX=3 - frame["SEX"], AGE=90 - frame["AGE"] // 2, MARRIAGE=3)
    assert not changed[["SEX", "AGE", "MARRIAGE"]].equals(frame[["SEX", "AGE", "MARRIAGE"]])
    before = uci_model.score(uci_features(frame))
    after = uci_model.score(uci_features(normalise_uci_columns(changed)))
    pd.testing.assert_frame_equal(before, after)
