"""`advisor risk train|evaluate|show` end to end: the UCI layout, the bank layout and errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from advisor.cli.app import app as cli
from advisor.settings import get_settings
from tests.conftest import shared_dataset

SLICE_ROWS = 3000
EVALUATION_KEYS = {"auc", "ks", "brier", "threshold", "tpr", "tpr_by_group", "auc_by_group", "tpr_gap", "rows"}


def run(*args: str):
    import advisor.cli.data  # noqa: F401  (registers `advisor ingest`)
    import advisor.cli.risk  # noqa: F401  (registers `advisor risk`)

    return CliRunner().invoke(cli, list(args))


def payload(result) -> dict:
    return json.loads(result.stdout)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def uci_slice(tmp_path_factory):
    source = shared_dataset("uci_credit_default/train.csv")
    path = tmp_path_factory.mktemp("uci-cli") / "slice.csv"
    pd.read_csv(source, nrows=SLICE_ROWS).to_csv(path, index=False)
    return path


def test_train_then_evaluate_on_the_uci_layout(uci_slice, home, tmp_path):
    trained = run("risk", "train", "--csv", str(uci_slice), "--out", str(tmp_path / "uci"), "--json")
    assert trained.exit_code == 0, trained.output
    card = payload(trained)
    assert card["layout"] == "uci" and card["training_rows"] == SLICE_ROWS
    assert not {"SEX", "AGE", "MARRIAGE", "EDUCATION"} & set(card["features"])
    assert {"version", "threshold", "out_of_fold", "fairness", "band_cutoffs", "trained_at"} <= set(card)
    evaluated = run("risk", "evaluate", "--csv", str(uci_slice), "--model", str(tmp_path / "uci"), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    figures = payload(evaluated)
    assert EVALUATION_KEYS <= set(figures)
    assert set(figures["tpr_by_group"]) == {"female", "male"} and figures["model_version"] == card["version"]


def test_cross_validation_on_the_uci_layout(uci_slice, home):
    result = run("risk", "evaluate", "--csv", str(uci_slice), "--cv", "3", "--json")
    assert result.exit_code == 0, result.output
    figures = payload(result)
    assert EVALUATION_KEYS <= set(figures) and figures["folds"] == 3 and figures["auc"] > 0.7


def test_original_column_names_are_accepted(uci_slice, home, tmp_path):
    from tools.credit.features import UCI_ORIGINAL_NAMES

    renamed = tmp_path / "original.csv"
    pd.read_csv(uci_slice, nrows=1500).rename(columns=UCI_ORIGINAL_NAMES).to_csv(renamed, index=False)
    result = run("risk", "train", "--csv", str(renamed), "--layout", "uci", "--out", str(tmp_path / "m"), "--json")
    assert result.exit_code == 0, result.output
    assert payload(result)["training_rows"] == 1500


def test_errors_come_back_as_json_with_a_code(home, tmp_path):
    missing = run("risk", "train", "--csv", str(tmp_path / "nope.csv"), "--json")
    assert missing.exit_code == 2 and payload(missing)["error"]["code"] == "file_not_found"
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"customer_id": ["C-1"], "balance": [1.0]}).to_csv(wrong, index=False)
    result = run("risk", "evaluate", "--csv", str(wrong), "--cv", "3", "--json")
    assert result.exit_code == 2 and payload(result)["error"]["code"] == "wrong_columns"
    no_model = run("risk", "evaluate", "--csv", str(tmp_path), "--model", str(tmp_path / "none"), "--json")
    assert no_model.exit_code == 2 and payload(no_model)["error"]["code"] in {"model_not_found", "file_not_found"}


def test_bank_layout_from_a_folder_uses_its_labels(bank_dir, home, tmp_path):
    trained = run("risk", "train", "--csv", str(bank_dir), "--out", str(tmp_path / "bank"), "--json")
    assert trained.exit_code == 0, trained.output
    card = payload(trained)
    assert card["layout"] == "bank" and card["target"] == "default_12m"
    evaluated = run("risk", "evaluate", "--csv", str(bank_dir), "--model", str(tmp_path / "bank"), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert EVALUATION_KEYS <= set(payload(evaluated))


def test_bank_layout_from_the_store_and_one_customer(bank_dir, home):
    ingested = run("ingest", "--data", str(bank_dir), "--skip-text", "--json")
    assert ingested.exit_code == 0, ingested.output
    trained = run("risk", "train", "--json")
    assert trained.exit_code == 0, trained.output
    assert payload(trained)["target"].startswith("proxy")
    assert (home / "models" / "risk" / "model_card.json").exists()
    customer_id = pd.read_csv(bank_dir / "payments.csv").groupby("customer_id")["days_late"].sum().idxmax()
    shown = run("risk", "show", customer_id, "--json")
    assert shown.exit_code == 0, shown.output
    finding = payload(shown)
    assert finding["risk_band"] in list("ABCDE") and finding["evidence"][-1].startswith("model:default-risk@")
    unknown = run("risk", "show", "C-99999", "--json")
    assert unknown.exit_code == 2 and payload(unknown)["error"]["code"] == "unknown_customer"
