"""`advisor risk`: train, evaluate and apply the default-risk model.

Two layouts: ``uci`` (the "default of credit card clients" CSV, X1..X23 or original
column names) and ``bank`` (the project's own tables: a folder of contract CSVs, or the
ingested data store when --csv is left out).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from advisor.cli.app import app, console, fail, print_json, settings

risk_app = typer.Typer(help="The default-risk model: train, evaluate, explain.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")

LAYOUT_CHOICES = ("auto", "uci", "bank")


def _layout_of(csv: Path | None, layout: str, as_json: bool) -> str:
    from tools.credit.features import looks_like_uci

    if layout not in LAYOUT_CHOICES:
        fail("bad_layout", f"--layout must be one of {', '.join(LAYOUT_CHOICES)}", as_json)
    if csv is None:
        if layout == "uci":
            fail("missing_csv", "the uci layout needs --csv FILE", as_json)
        return "bank"
    if not csv.exists():
        fail("file_not_found", f"{csv} does not exist", as_json)
    if csv.is_dir():
        if layout == "uci":
            fail("wrong_columns", f"{csv} is a folder; the uci layout needs a CSV file", as_json)
        return "bank"
    if layout == "bank":
        fail("wrong_columns", f"for the bank layout --csv must be a folder of the contract's CSV tables, "
                              f"got {csv}", as_json)
    try:
        import pandas as pd

        header = list(pd.read_csv(csv, nrows=0).columns)
    except Exception as error:  # unreadable or empty file
        fail("wrong_columns", f"{csv}: cannot read a CSV header ({error})", as_json)
    if not looks_like_uci(header):
        fail("wrong_columns", f"{csv}: not the UCI credit-default layout (needs LIMIT_BAL/X1, PAY_0/X6 ... "
                              f"PAY_AMT6/X23); for the bank's own tables pass a folder", as_json)
    return "uci"


def _uci_data(csv: Path, as_json: bool):
    from tools.credit.features import FeatureInputError, read_uci_csv, uci_features

    try:
        data = read_uci_csv(csv)
    except FeatureInputError as error:
        fail("wrong_columns", str(error), as_json)
    if data.target is None:
        fail("no_target", f"{csv}: no default.payment.next.month / Y column with 0/1 values", as_json)
    return uci_features(data.frame), data


def _bank_frames(csv: Path | None, with_transactions: bool, as_json: bool):
    from advisor import services
    from tools.credit.bank import frames_from_folder, frames_from_store

    try:
        if csv is not None:
            return frames_from_folder(csv, with_transactions=with_transactions, with_audit_groups=True), None
        store = services.open_store(settings())
        if store.count("customers") == 0:
            fail("no_data", "the data store is empty; run `advisor ingest` or pass --csv FOLDER", as_json)
        frames = frames_from_store(store, with_transactions=with_transactions, with_audit_groups=True)
        return frames, store.latest_date()
    except FileNotFoundError as error:
        fail("file_not_found", str(error), as_json)
    except ValueError as error:
        fail("wrong_columns", str(error), as_json)


def _labels(csv: Path | None, labels: Path | None, as_json: bool):
    from tools.credit.bank import LABELS_FILE, load_default_labels

    folder = labels if labels is not None else (csv / "labels" if csv is not None else None)
    if folder is None or (labels is None and not (folder / LABELS_FILE).exists()):
        return None
    try:
        return load_default_labels(folder)
    except (FileNotFoundError, ValueError) as error:
        fail("labels_not_found", str(error), as_json)


def _bank_training_data(csv, labels, with_transactions, as_json):
    from tools.credit.bank import bank_training_set

    frames, as_of = _bank_frames(csv, with_transactions, as_json)
    truth = _labels(csv, labels, as_json)
    try:
        return bank_training_set(frames, as_of, truth)
    except ValueError as error:
        fail("wrong_columns", str(error), as_json)


@risk_app.command("train")
def train(
    csv: Path = typer.Option(None, "--csv", help="UCI CSV file, or a folder of the bank's CSV tables "
                                                 "(default: the ingested data store)."),
    layout: str = typer.Option("auto", help="uci, bank or auto (from --csv)."),
    out: Path = typer.Option(None, help="Model folder (default: <models>/risk, or <models>/risk-uci)."),
    labels: Path = typer.Option(None, help="Ground-truth folder with customers_truth.csv (default: <csv>/labels "
                                           "if present; without labels the target is the 90+ days past due "
                                           "proxy)."),
    transactions: bool = typer.Option(False, "--transactions", help="Bank layout: add transaction features "
                                                                    "(gambling, cash, income trend)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train, calibrate and save a default-risk model with its model card."""
    from tools.credit.bank import UCI_MODEL_FOLDER, risk_model_dir
    from tools.credit.features import BANK_LAYOUT, BANK_LAYOUT_WITH_TRANSACTIONS, UCI_LAYOUT
    from tools.credit.model import train_risk_model

    config = settings()
    kind = _layout_of(csv, layout, as_json)
    try:
        if kind == "uci":
            features, data = _uci_data(csv, as_json)
            model = train_risk_model(features, data.target, UCI_LAYOUT, "default.payment.next.month",
                                     groups=data.sex, notes=[f"trained on {csv.name}"])
            folder = out or Path(config.models_dir) / UCI_MODEL_FOLDER
        else:
            data = _bank_training_data(csv, labels, transactions, as_json)
            bank_layout = BANK_LAYOUT_WITH_TRANSACTIONS if transactions else BANK_LAYOUT
            model = train_risk_model(data.features, data.target, bank_layout, data.target_name, groups=data.groups,
                                     notes=[*data.notes, f"source: {csv or 'data store'}"])
            folder = out or risk_model_dir(config)
    except ValueError as error:
        fail("bad_target", str(error), as_json)
    model.save(folder)
    card = model.card.model_dump(mode="json") | {"path": str(folder)}
    if as_json:
        print_json(card)
        return
    oof = model.card.out_of_fold
    console.print(f"trained [bold]{model.version}[/] on {model.card.training_rows:,} rows "
                  f"({model.card.positives:,} defaults) in {model.card.training_seconds:.1f}s; saved to {folder}")
    console.print(f"cross-fitted AUC {oof['auc']:.3f}, KS {oof['ks']:.3f}, Brier {oof['brier']:.4f}; "
                  f"threshold {model.card.threshold.threshold:.3f} ({model.card.threshold.rule})")


def _summary(report, layout: str, source: str, mode: str) -> dict:
    """The figures every evaluation prints, from an EvaluationReport or a CrossValidationReport."""
    from tools.credit.evaluation import CrossValidationReport

    if isinstance(report, CrossValidationReport):
        per_group: dict[str, list[float]] = {}
        for fold in report.per_fold:
            for group in fold.by_group:
                if group.auc is not None:
                    per_group.setdefault(group.group, []).append(group.auc)
        return {
            "mode": mode, "layout": layout, "source": source, "rows": report.rows, "folds": report.folds,
            "auc": report.mean["auc"], "auc_std": report.std["auc"], "ks": report.mean["ks"],
            "brier": report.mean["brier"], "threshold": report.mean["threshold"], "tpr": report.mean["tpr"],
            "tpr_by_group": report.tpr_by_group,
            "auc_by_group": {g: sum(v) / len(v) for g, v in per_group.items()},
            "tpr_gap": report.mean["tpr_gap"], "seconds": report.seconds,
            "details": report.model_dump(mode="json"),
        }
    return {
        "mode": mode, "layout": layout, "source": source, "rows": report.rows, "auc": report.auc, "ks": report.ks,
        "brier": report.brier, "threshold": report.threshold, "tpr": report.tpr,
        "tpr_by_group": {g.group: g.tpr for g in report.by_group},
        "auc_by_group": {g.group: g.auc for g in report.by_group},
        "tpr_gap": report.tpr_gap, "model_version": report.model_version,
        "details": report.model_dump(mode="json"),
    }


@risk_app.command("evaluate")
def evaluate(
    csv: Path = typer.Option(None, "--csv", help="UCI CSV file, or a folder of the bank's CSV tables "
                                                 "(default: the ingested data store)."),
    model_dir: Path = typer.Option(None, "--model", help="Model folder (default: <models>/risk or risk-uci)."),
    layout: str = typer.Option("auto", help="uci, bank or auto (from --csv)."),
    labels: Path = typer.Option(None, help="Ground-truth folder (bank layout; default: <csv>/labels if present)."),
    cv: int = typer.Option(0, "--cv", min=0, help="K-fold cross-validation on this data instead of a saved "
                                                   "model."),
    transactions: bool = typer.Option(False, "--transactions", help="With --cv on the bank layout: add "
                                                                    "transaction features."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """AUC, KS, Brier, and by sex/gender the AUC, TPR and TPR gap (a saved model, or --cv K)."""
    from tools.credit.bank import UCI_MODEL_FOLDER, risk_model_dir
    from tools.credit.evaluation import cross_validate, evaluate_model
    from tools.credit.features import BANK_LAYOUT, BANK_LAYOUT_WITH_TRANSACTIONS, FeatureInputError, UCI_LAYOUT
    from tools.credit.model import RiskModel

    if cv == 1:
        fail("bad_option", "--cv needs at least 2 folds", as_json)
    config = settings()
    kind = _layout_of(csv, layout, as_json)
    source = str(csv) if csv is not None else "data store"
    model = None
    if not cv:
        default = Path(config.models_dir) / UCI_MODEL_FOLDER if kind == "uci" else risk_model_dir(config)
        folder = model_dir or default
        try:
            model = RiskModel.load(folder)
        except (FileNotFoundError, ValueError) as error:
            fail("model_not_found", f"{error}; run `advisor risk train` first", as_json)
        if (model.layout.name == "uci") != (kind == "uci"):
            fail("layout_mismatch", f"model {model.version} is for the {model.layout.name} layout, "
                                    f"the data is {kind}", as_json)
    try:
        if kind == "uci":
            features, data = _uci_data(csv, as_json)
            target, groups, group_column, feature_layout = data.target, data.sex, "SEX", UCI_LAYOUT
            target_name = "default.payment.next.month"
        else:
            with_tx = model.needs_transactions if model is not None else transactions
            bank = _bank_training_data(csv, labels, with_tx, as_json)
            features, target, groups, group_column = bank.features, bank.target, bank.groups, "gender"
            feature_layout = BANK_LAYOUT_WITH_TRANSACTIONS if with_tx else BANK_LAYOUT
            target_name = bank.target_name
        if cv:
            report = cross_validate(features, target, feature_layout, target_name, groups, group_column, folds=cv)
            summary = _summary(report, kind, source, f"{cv}-fold cross-validation")
        else:
            report = evaluate_model(model, features, target, groups, group_column)
            summary = _summary(report, kind, source, "saved model")
    except FeatureInputError as error:
        fail("wrong_columns", str(error), as_json)
    except ValueError as error:
        fail("bad_target", str(error), as_json)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"{summary['mode']} on {source} ({summary['rows']:,} rows)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in ("auc", "ks", "brier", "threshold", "tpr", "tpr_gap"):
        value = summary[name]
        table.add_row(name, "-" if value is None else f"{value:.4f}")
    for group, value in summary["auc_by_group"].items():
        table.add_row(f"auc ({group_column}={group})", "-" if value is None else f"{value:.4f}")
    for group, value in summary["tpr_by_group"].items():
        table.add_row(f"tpr ({group_column}={group})", "-" if value is None else f"{value:.4f}")
    console.print(table)


@risk_app.command("show")
def show(
    customer_id: str = typer.Argument(..., help="Customer id, e.g. C-00042."),
    as_of: str = typer.Option(None, "--as-of", help="Assessment date (default: the bank's last day with data)."),
    as_json: bool = typer.Option(False, "--json", help="Print the finding as JSON."),
) -> None:
    """One customer's credit finding: utilisation, DTI, payment history, default risk and reasons."""
    from advisor import services
    from tools.credit.assess import credit_for_customer
    from tools.credit.bank import ensure_risk_model

    config = settings()
    store = services.open_store(config)
    if not store.customer_exists(customer_id):
        fail("unknown_customer", f"no customer with id {customer_id}", as_json)
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            fail("bad_date", f"--as-of must be YYYY-MM-DD, got {as_of!r}", as_json)
    finding = credit_for_customer(store, customer_id, day, ensure_risk_model(config, store))
    if as_json:
        print_json(finding.model_dump(mode="json"))
        return
    if not finding.available:
        console.print(f"[yellow]no credit data[/]: {finding.missing_reason}")
    utilisation = "-" if finding.utilisation_overall is None else f"{finding.utilisation_overall:.0%}"
    dti = "-" if finding.debt_to_income is None else f"{finding.debt_to_income:.0%}"
    console.print(f"[bold]{customer_id}[/] utilisation {utilisation}, debt EUR {finding.total_debt:,.2f}, "
                  f"debt payments EUR {finding.monthly_debt_payments:,.2f}/month, DTI {dti}")
    console.print(f"last 12 months: {finding.late_payments_12m} late ({finding.late_30_plus_12m} 30+ days), "
                  f"worst {finding.worst_days_late} days, {finding.missed_payments_12m} missed")
    if finding.default_probability is not None:
        console.print(f"default probability {finding.default_probability:.1%}, band {finding.risk_band} "
                      f"(model {finding.model_version})")
    for reason in finding.reason_codes:
        console.print(f"  {reason.code} {reason.text} ({reason.feature} = {reason.value})")
