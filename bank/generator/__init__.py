"""Synthetic bank generator: deterministic CSV tables plus the ground truth to test against.

``generate_bank(customers, months, seed, out_dir, labels_dir=None, end_date=date(2026, 10, 31))``
writes the six contract tables (customers, accounts, transactions, payments,
interactions, social_posts) to ``out_dir`` and the ground truth to ``labels_dir``
(default ``out_dir/labels``). The same arguments give byte-identical files. Customers
are drawn in chunks of 5,000 with numpy, each chunk from its own named random streams.

Ground truth (CSV, booleans ``true``/``false``, empty field = none):

``customers_truth.csv``
    customer_id, risk_factor (the hidden standard-normal risk factor; independent of
    gender, age, marital status and region), default_probability, default_12m (0/1,
    drawn from ``sigmoid(-2.75 + 1.25 * risk_factor + 1.0 * in_trouble_at_end)``, about
    10 % positive), life_event (job_loss, new_baby, moving_house, wedding, new_car or
    empty), life_event_date (spending changes from that month on), segment (a hint:
    financially_stretched, student, retiree, young_family, traveller,
    high_earner_saver, foodie, shopper, commuter, everyday_budgeter), trouble_months
    (months in which credit instalments went unpaid), in_trouble_at_end,
    worst_days_late, gambler, has_anomaly, consent_social.
``subscriptions.csv``
    one row per true subscription (per account it is charged to): customer_id,
    merchant, account_id, period (monthly/annual), amount (first price),
    amount_after_rise and price_rise_date (empty without a rise), first_date,
    last_date, n_charges, active_at_end, families (``;``-joined, e.g.
    ``video_streaming;music_streaming``), duplicate (the same service charged from two
    accounts; both rows are flagged), overlap (another service of a shared family),
    overlap_with (``;``-joined merchants). Monthly charges fall on the same day of the
    month ± 2 days; annual ones on the anniversary. Rent, utilities, telecom, insurance
    and repayments are recurring too but are bills, not subscriptions, and are not listed.
``anomalies.csv``
    transaction_id, customer_id, account_id, timestamp, kind (large_amount,
    foreign_country, odd_hour, velocity_burst, new_merchant), amount, merchant, country.
    Each velocity burst lists each of its 5-8 transactions.
``texts.csv``
    text_id (interaction_id or post_id), source (interaction/social_post),
    customer_id, channel (interaction channel or social platform), intent (one of 13),
    sentiment (target in -1..1), consent_social (the customer's flag), usable (false
    only for social posts without consent), contains_pii, pii_types (card, email,
    phone or empty), injection (a prompt-injection attempt is in the text).

Conventions of the tables: money has two decimals; a credit card's or loan's
balance is the positive amount owed; transactions' amount is negative for money out;
payments' days_late counts days past due until paid in full, or until the end date
for instalments still unpaid (then paid_date is empty and amount_paid is 0 or a partial
payment); every paid instalment has its debit in transactions on paid_date; apr is
set for credit products (cards, loans, mortgages and the CHK-PLUS overdraft) only.
"""

from bank.generator.generate import DEFAULT_END_DATE, GenerationReport, generate_bank
from bank.generator.people import People, customers_frame, sample_people

__all__ = ["DEFAULT_END_DATE", "GenerationReport", "People", "customers_frame", "generate_bank", "sample_people"]
