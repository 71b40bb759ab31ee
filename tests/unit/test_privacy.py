"""Keys, field encryption, blind indexes and redaction of the bank data layer."""

from __future__ import annotations

import base64
import os
import re
import stat
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bank import privacy
from bank.privacy import (
    DataKeyError,
    DecryptionError,
    FieldCipher,
    RedactionResult,
    decode_key,
    encode_key,
    key_id,
    load_or_create_key,
    looks_encrypted,
    luhn_valid,
    mask_card_numbers,
    name_tokens,
    redact,
    redact_mapping,
    redact_text,
    token_key_id,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def cipher(key: bytes) -> FieldCipher:
    return FieldCipher(key)


# --- keys --------------------------------------------------------------------------------


@posix_only
def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "keys" / "data.key"
    permissive = os.umask(0)
    try:
        first = load_or_create_key(None, key_file)
    finally:
        os.umask(permissive)
    assert len(first) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert decode_key(key_file.read_text()) == first
    assert load_or_create_key(None, key_file) == first
    assert [path.name for path in key_file.parent.iterdir()] == ["data.key"]


def test_configured_key_takes_precedence_over_key_file(tmp_path: Path, key: bytes) -> None:
    key_file = tmp_path / "data.key"
    on_disk = load_or_create_key(None, key_file)
    assert load_or_create_key(encode_key(key), key_file) == key != on_disk
    assert load_or_create_key(encode_key(key), tmp_path / "never.key") == key
    assert not (tmp_path / "never.key").exists()


def test_blank_configured_key_falls_back_to_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "data.key"
    assert load_or_create_key("  ", key_file) == load_or_create_key(None, key_file)


def test_standard_and_urlsafe_base64_both_accepted() -> None:
    key = bytes(range(200, 232))  # encodes with '+'/'/' in standard, '-'/'_' in URL-safe base64
    standard = base64.b64encode(key).decode()
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert standard != urlsafe
    assert decode_key(standard) == decode_key(urlsafe) == decode_key(f" {standard}\n") == key


@pytest.mark.parametrize("length", [1, 16, 31, 33, 64])
def test_wrong_key_length_is_refused_with_the_length(length: int) -> None:
    text = base64.b64encode(b"k" * length).decode()
    with pytest.raises(DataKeyError, match=rf"is {length} bytes long.*exactly 32"):
        load_or_create_key(text, Path("/nonexistent/data.key"))
    with pytest.raises(DataKeyError, match=rf"is {length} bytes long"):
        FieldCipher(b"k" * length)
    with pytest.raises(DataKeyError, match=rf"is {length} bytes long"):
        FieldCipher(os.urandom(32), old_keys=[b"k" * length])


def test_non_base64_key_is_refused() -> None:
    with pytest.raises(DataKeyError, match="base64"):
        decode_key("this is not base64!")


def test_corrupt_key_file_names_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "data.key"
    key_file.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(DataKeyError, match=re.escape(str(key_file))):
        load_or_create_key(None, key_file)


def test_losing_the_creation_race_returns_the_winners_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "data.key"
    winner = load_or_create_key(None, key_file)
    real_read = privacy.read_key_file
    calls = []

    def file_not_there_yet(path: Path) -> bytes:
        calls.append(path)
        if len(calls) == 1:
            raise FileNotFoundError(path)
        return real_read(path)

    monkeypatch.setattr(privacy, "read_key_file", file_not_there_yet)
    assert load_or_create_key(None, key_file) == winner
    assert len(calls) == 2
    assert [path.name for path in tmp_path.iterdir()] == ["data.key"]


def test_concurrent_first_runs_agree_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "data.key"
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def first_run() -> None:
        start.wait()
        keys.append(load_or_create_key(None, key_file))

    threads = [threading.Thread(target=first_run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert decode_key(key_file.read_text()) == keys[0]


# --- field encryption ----------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["mary.obrien@example.com", "", "Seán Ó Briain 😀", "x" * 5000])
def test_round_trip(key: bytes, cipher: FieldCipher, plaintext: str) -> None:
    token = cipher.encrypt(plaintext, "customers.email")
    assert token is not None and looks_encrypted(token)
    assert token.startswith(f"v1:{key_id(key)}:")
    assert plaintext == "" or plaintext not in token
    assert cipher.decrypt(token, "customers.email") == plaintext


def test_none_passes_through(cipher: FieldCipher) -> None:
    assert cipher.encrypt(None, "customers.phone") is None
    assert cipher.decrypt(None, "customers.phone") is None


def test_non_text_is_refused(cipher: FieldCipher) -> None:
    with pytest.raises(TypeError, match="customers.annual_income"):
        cipher.encrypt(52000.0, "customers.annual_income")  # type: ignore[arg-type]


def test_same_plaintext_encrypts_differently(cipher: FieldCipher) -> None:
    first = cipher.encrypt("Mary", "customers.full_name")
    second = cipher.encrypt("Mary", "customers.full_name")
    assert first != second
    assert cipher.decrypt(first, "customers.full_name") == cipher.decrypt(second, "customers.full_name") == "Mary"


def test_token_names_its_key(key: bytes, cipher: FieldCipher) -> None:
    token = cipher.encrypt("Mary", "customers.full_name")
    assert token is not None
    assert token.split(":")[1] == key_id(key) == cipher.key_id == token_key_id(token)
    assert len(cipher.key_id) == 8


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_tampered_token_fails_with_decryption_error(cipher: FieldCipher, position: int) -> None:
    token = cipher.encrypt("+353 87 123 4567", "customers.phone")
    assert token is not None
    prefix, encoded = token.rsplit(":", 1)
    payload = bytearray(base64.urlsafe_b64decode(encoded))
    payload[position] ^= 0x01
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(payload)).decode()}"
    with pytest.raises(DecryptionError, match="fails authentication"):
        cipher.decrypt(tampered, "customers.phone")


@pytest.mark.parametrize("garbage", ["plain text", "v1:zz:abc", "v2:00000000:AAAA", "v1:00000000:AAAA"])
def test_malformed_tokens_fail_with_decryption_error(cipher: FieldCipher, garbage: str) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt(garbage, "customers.email")


def test_token_moved_to_another_column_fails(cipher: FieldCipher) -> None:
    token = cipher.encrypt("mary.obrien@example.com", "customers.email")
    with pytest.raises(DecryptionError, match="customers.full_name"):
        cipher.decrypt(token, "customers.full_name")


def test_token_from_another_key_fails_and_says_which_key(key: bytes) -> None:
    token = FieldCipher(key).encrypt("Mary", "customers.full_name")
    with pytest.raises(DecryptionError, match=f"key {key_id(key)}, which is not loaded"):
        FieldCipher(os.urandom(32)).decrypt(token, "customers.full_name")


def test_rotation_old_key_decrypts_and_reencrypt_moves_to_new_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old_token = FieldCipher(old_key).encrypt("mary.obrien@example.com", "customers.email")
    assert old_token is not None
    rotated = FieldCipher(new_key, old_keys=[old_key])
    assert rotated.key_ids == (key_id(new_key), key_id(old_key))
    assert rotated.decrypt(old_token, "customers.email") == "mary.obrien@example.com"
    assert rotated.needs_reencryption(old_token)

    new_token = rotated.reencrypt(old_token, "customers.email")
    assert token_key_id(new_token) == key_id(new_key) != key_id(old_key)
    assert not rotated.needs_reencryption(new_token)
    assert rotated.reencrypt(new_token, "customers.email") == new_token
    assert FieldCipher(new_key).decrypt(new_token, "customers.email") == "mary.obrien@example.com"
    with pytest.raises(DecryptionError):
        rotated.reencrypt(old_token, "customers.phone")


def test_old_key_equal_to_new_key_is_harmless(key: bytes) -> None:
    assert FieldCipher(key, old_keys=[key]).key_ids == (key_id(key),)


def test_blind_index_is_stable_keyed_and_contextual(key: bytes) -> None:
    first, again, other = FieldCipher(key), FieldCipher(key), FieldCipher(os.urandom(32))
    index = first.blind_index("Mary O'Brien", "customers.full_name")
    assert re.fullmatch(r"[0-9a-f]{32}", index)
    assert again.blind_index("Mary O'Brien", "customers.full_name") == index
    assert first.blind_index("  MARY   O’Brien ", "customers.full_name") == index
    assert first.blind_index("Mary OBrien", "customers.full_name") != index
    assert other.blind_index("Mary O'Brien", "customers.full_name") != index
    assert first.blind_index("Mary O'Brien", "customers.email") != index
    assert first.blind_index("Seán", "name_token") == first.blind_index("sean", "name_token")


def test_name_tokens_and_their_blind_indexes(cipher: FieldCipher) -> None:
    assert name_tokens("Mary-Kate  O’Brien") == ["mary", "kate", "obrien"]
    indexes = cipher.blind_index_tokens("Mary-Kate O'Brien", "customers.name_token")
    assert cipher.blind_index("obrien", "customers.name_token") in indexes
    assert len(indexes) == 3


# --- redaction -------------------------------------------------------------------------------

REDACTED = [
    # cards
    ("Card 4111 1111 1111 1111 declined", "Card [CARD] declined"),
    ("Card 4111-1111-1111-1111 declined", "Card [CARD] declined"),
    ("card:4111111111111111.", "card:[CARD]."),
    ("amex 3782 822463 10005 ok", "amex [CARD] ok"),
    ("old visa 4222222222222", "old visa [CARD]"),
    ("19 digits 6011 1111 1111 1111 110", "19 digits [CARD]"),
    ("ref 12 4111 1111 1111 1111", "ref 12 [CARD]"),
    # e-mails
    ("mail mary.obrien@example.com now", "mail [EMAIL] now"),
    ("MARY.OBRIEN+bank@Mail.Example.IE", "[EMAIL]"),
    ("<j_doe-99@sub.domain.co.uk>", "<[EMAIL]>"),
    # phones
    ("call +353 87 123 4567 today", "call [PHONE] today"),
    ("call (087) 123-4567", "call [PHONE]"),
    ("call 087-123-4567", "call [PHONE]"),
    ("London +44 20 7946 0958.", "London [PHONE]."),
    ("mobile 0871234567", "mobile [PHONE]"),
    ("US +1 (555) 010-9999", "US [PHONE]"),
    ("tel:+353871234567", "tel:[PHONE]"),
    ("Dublin 01 234 5678", "Dublin [PHONE]"),
    ("intl 00353 87 123 4567", "intl [PHONE]"),
    ("from +353 (0)87 123 4567", "from [PHONE]"),
    ("call 087 123 4567 2026", "call [PHONE] 2026"),
    ("ring 555-010-9999", "ring [PHONE]"),
    # IBANs and accounts
    ("IBAN IE29 AIBK 9311 5212 3456 78 please", "IBAN [IBAN] please"),
    ("to IE29AIBK93115212345678.", "to [IBAN]."),
    ("GB82 WEST 1234 5698 7654 32", "[IBAN]"),
    ("mistyped IE00 AIBK 9311 5212 3456 78", "mistyped [IBAN]"),
    ("account AC-1234567 is overdrawn", "account [ACCOUNT] is overdrawn"),
    ("account 12345678", "account [ACCOUNT]"),
    ("Acct no. 123456789012 closed", "Acct no. [ACCOUNT] closed"),
    ("a/c: 87654321", "a/c: [ACCOUNT]"),
    ("savings account number is 0012345678", "savings account number is [ACCOUNT]"),
    ("account 0871234567", "account [ACCOUNT]"),
    ("account 1234567812345678 (not Luhn)", "account 1234567812345678 (not Luhn)"),
    # postcodes
    ("lives at D04 X2K7, Dublin", "lives at [POSTCODE], Dublin"),
    ("Eircode A65F4E2", "Eircode [POSTCODE]"),
    ("London SW1A 1AA", "London [POSTCODE]"),
    ("Manchester M1 1AE", "Manchester [POSTCODE]"),
    ("EC1A1BB", "[POSTCODE]"),
]

KEPT = [
    "Balance EUR 1,250.00 after a 2,000 transfer",
    "Paid on 2026-10-31 at 10:30",
    "paid 1250.00 on 2026-10-31 12:30:00",
    "statement 31/10/2026",
    "05-11-2026 10:30",
    "2026-10-31 2026-11-30",
    "transaction T-000123 for customer C-00042",
    "customers C-00042 and C-12345 share advisor A-007",
    "code 1234",
    "PIN 12345",
    "1234567812345678 is not a card",
    "reference 123456789",
    "APR 22.9% on a 5,000 limit, 36 months",
    "a balance of 12500000",
    "GB12 1234 5678",
    "card ending 1111",
    "sort code 93-11-52",
    "2026-10-31 10:30:00 12 2026",
    "score 0.87, utilisation 45%",
    "I love the new app!",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts_each_kind(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected


@pytest.mark.parametrize("text", KEPT)
def test_keeps_amounts_dates_and_pseudonymous_ids(text: str) -> None:
    result = redact_text(text)
    assert result.text == text
    assert result.counts == {} and result.total == 0


def test_counts_per_kind() -> None:
    result = redact_text(
        "Mary O'Brien (mary@example.com, 087 123 4567, 4111 1111 1111 1111, AC-1234567) "
        "paid IE29 AIBK 9311 5212 3456 78 from D04 X2K7; Mary's other card 5500 0000 0000 0004",
        known_identifiers=["Mary O'Brien"],
    )
    assert isinstance(result, RedactionResult)
    assert result.counts == {"NAME": 2, "EMAIL": 1, "PHONE": 1, "CARD": 2, "ACCOUNT": 1, "IBAN": 1, "POSTCODE": 1}
    assert result.total == 9
    assert result.text == (
        "[NAME] ([EMAIL], [PHONE], [CARD], [ACCOUNT]) paid [IBAN] from [POSTCODE]; [NAME]'s other card [CARD]"
    )


KNOWN = ["Mary-Kate O'Brien", "mk.obrien@example.com", "+353 87 765 4321", "C-00042", "Al"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mary-kate o'brien called", "[NAME] called"),
        ("MARY-KATE O’BRIEN called", "[NAME] called"),
        ("Mary-Kate  O'Brien's complaint", "[NAME]'s complaint"),
        ("O'Brien's card", "[NAME]'s card"),
        ("Kate said", "[NAME] said"),
        ("Hi Mary, this is Kate", "Hi [NAME], this is [NAME]"),
        ("Katering and Maryland stay", "Katering and Maryland stay"),
        ("Al is too short to match", "Al is too short to match"),
        ("write to MK.OBrien@Example.com", "write to [EMAIL]"),
        ("her number 087 765 4321", "her number [PHONE]"),
        ("her number 0877654321", "her number [PHONE]"),
        ("customer C-00042 stays pseudonymous", "customer C-00042 stays pseudonymous"),
    ],
)
def test_known_identifiers(text: str, expected: str) -> None:
    assert redact(text, KNOWN) == expected


def test_name_that_is_a_placeholder_word_stays_idempotent() -> None:
    identifiers = ["Name Card", "Phone"]
    once = redact("Name Card paid by card; phone Phone", identifiers)
    assert once == "[NAME] paid by [NAME]; [NAME] [NAME]"
    assert redact(once, identifiers) == once


def test_known_identifiers_as_a_single_string() -> None:
    assert redact("Mary called", "Mary O'Brien") == "[NAME] called"


def test_mask_card_numbers_keeps_last_four_and_nothing_else() -> None:
    text = "Card 4111 1111 1111 1111 and 5500-0000-0000-0004; ref 1234567812345678; call 087 123 4567"
    masked = mask_card_numbers(text)
    assert masked == (
        "Card [CARD ****1111] and [CARD ****0004]; ref 1234567812345678; call 087 123 4567"
    )
    assert mask_card_numbers(masked) == masked
    assert redact(masked) == "Card [CARD ****1111] and [CARD ****0004]; ref 1234567812345678; call [PHONE]"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112") and not luhn_valid("1234567812345678")


def test_redact_mapping_redacts_strings_recursively() -> None:
    record = {
        "customer_id": "C-00042",
        "question": "Mary called from 087 123 4567",
        "findings": [{"note": "card 4111 1111 1111 1111"}, ("mary@example.com", 3)],
        "amount": 1250.0,
        "mary@example.com": None,
    }
    redacted = redact_mapping(record, ["Mary O'Brien"])
    assert redacted == {
        "customer_id": "C-00042",
        "question": "[NAME] called from [PHONE]",
        "findings": [{"note": "card [CARD]"}, ("[EMAIL]", 3)],
        "amount": 1250.0,
        "mary@example.com": None,
    }
    assert record["question"] == "Mary called from 087 123 4567"


# --- properties --------------------------------------------------------------------------------


@st.composite
def luhn_cards(draw: st.DrawFn) -> tuple[str, str]:
    """A Luhn-valid card number and how it is written (compact, spaced or dashed)."""
    length = draw(st.integers(13, 19))
    body = [draw(st.integers(3, 6))] + draw(st.lists(st.integers(0, 9), min_size=length - 2, max_size=length - 2))
    check = next(digit for digit in range(10) if luhn_valid("".join(map(str, body + [digit]))))
    digits = "".join(map(str, body + [check]))
    separator = draw(st.sampled_from(["", " ", "-"]))
    written = separator.join(digits[start : start + 4] for start in range(0, length, 4))
    return digits, written


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(max_size=60), card=luhn_cards(), suffix=st.text(max_size=60))
def test_inserted_card_never_survives(prefix: str, card: tuple[str, str], suffix: str) -> None:
    digits, written = card
    text = f"{prefix} {written} {suffix}"
    for output in (redact(text), redact(text, ["Mary O'Brien"])):
        squashed = re.sub(r"[\s\-]", "", output)
        assert digits not in squashed
        assert "[CARD]" in output or "[IBAN]" in output or "[PHONE]" in output
    masked = mask_card_numbers(text)
    assert digits not in re.sub(r"[\s\-]", "", masked)


PII_FRAGMENTS = [
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "1234567812345678",
    "mary@example.com",
    "+353 87 123 4567",
    "(087) 123-4567",
    "IE29 AIBK 9311 5212 3456 78",
    "AC-1234567",
    "account",
    "12345678",
    "D04 X2K7",
    "SW1A 1AA",
    "Mary",
    "O'Brien's",
    "EUR 1,250.00",
    "2026-10-31",
    "C-00042",
    "T-000123",
    "[CARD]",
    "NAME",
    "-",
    "0",
]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.one_of(st.sampled_from(PII_FRAGMENTS), st.text(max_size=12)), max_size=12),
    separator=st.sampled_from([" ", "", "-", ", "]),
)
def test_redaction_is_idempotent(parts: list[str], separator: str) -> None:
    text = separator.join(parts)
    identifiers = ["Mary O'Brien", "mary@example.com"]
    once = redact(text, identifiers)
    assert redact(once, identifiers) == once
    assert mask_card_numbers(mask_card_numbers(text)) == mask_card_numbers(text)
