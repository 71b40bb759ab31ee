"""`advisor segments report`: every customer with spend in one segment, a table and an offline chart."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tools.book.segments import REPORT_COLUMNS, assign_segments, segment_report
from tools.spending import book_category_shares, customer_shares, ensure_segmenter
from tools.spending.ledger import HOUSING_AND_DEBT_CATEGORIES, Ledger, window_start


@pytest.fixture(scope="module")
def segmenter(test_settings, bank_store):
    return ensure_segmenter(test_settings, bank_store)


def test_report_places_each_customer_in_the_segment_the_spending_specialist_gives(bank_store, segmenter, as_of):
    transactions = bank_store.table("transactions")
    report = segment_report(transactions, segmenter, as_of)
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert report["customers"].sum() == transactions["customer_id"].nunique()
    assert report["share_of_book"].sum() == pytest.approx(1.0)
    assert (report.loc[report["customers"] > 0, "typical_monthly_spend"] > 0).all()
    stamps = pd.to_datetime(transactions["timestamp"], format="ISO8601", utc=True).dt.tz_localize(None)
    window = transactions[(stamps >= pd.Timestamp(window_start(as_of))).to_numpy()]
    book = assign_segments(book_category_shares(window, exclude=HOUSING_AND_DEBT_CATEGORIES), segmenter)
    for customer_id in bank_store.customer_ids()[:25]:
        shares = customer_shares(Ledger.build(bank_store.transactions(customer_id), as_of))
        assert book[customer_id] == segmenter.assign(shares)[0], customer_id


def test_segments_report_command_prints_a_table_and_writes_an_html_chart(test_settings, bank_store, segmenter,
                                                                         tmp_path, monkeypatch, request):
    from typer.testing import CliRunner

    from advisor.cli import _register_command_groups, app
    from advisor.settings import get_settings

    monkeypatch.setenv("ADVISOR_HOME", str(test_settings.home))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    _register_command_groups()
    chart = tmp_path / "segments.html"
    result = CliRunner().invoke(app, ["segments", "report", "--out-chart", str(chart), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {s["segment"] for s in payload["segments"]} == set(segmenter.names)
    html = chart.read_text()
    assert "plotly" in html.lower() and "Spending segments" in html
    png = CliRunner().invoke(app, ["segments", "report", "--out-chart", str(tmp_path / "s.png"), "--json"])
    try:
        import kaleido  # noqa: F401
    except ImportError:
        assert png.exit_code != 0 and "no_png_engine" in png.stdout
