"""Privacy primitives of the bank data layer.

* the data key: loaded from configuration or a key file created on first run;
* field encryption: AES-256-GCM with the column name bound as associated data, so a
  ciphertext copied into another column does not decrypt; old keys stay readable
  after a rotation and ``FieldCipher.reencrypt`` moves a value to the current key;
* blind indexes: keyed HMACs of normalised values for equality look-ups and name
  search without storing the values in clear;
* redaction: typed placeholders for cards, e-mails, phones, IBANs, account numbers,
  postcodes and the names and contacts of a known customer, for anything that
  leaves the data layer (prompts, traces, audit records, logs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_BYTES = 4
TOKEN_VERSION = "v1"
BLIND_INDEX_HEX_CHARS = 32
_BLIND_INDEX_INFO = b"northbridge-advisor blind index v1"


class DataKeyError(ValueError):
    """The data key is missing, malformed or of the wrong length."""


class DecryptionError(ValueError):
    """A token is malformed, was made with a key that is not loaded, or fails authentication."""


# --- keys ------------------------------------------------------------------------------


def encode_key(key: bytes) -> str:
    """The text form of a key, as written to the key file and accepted as ADVISOR_DATA_KEY."""
    check_key_length(key)
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    """Decode a base64 key (URL-safe or standard alphabet, padding optional) of 32 bytes."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        key = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise DataKeyError("the data key is not valid base64 (expected 32 random bytes, base64-encoded)") from error
    check_key_length(key)
    return key


def check_key_length(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise DataKeyError(
            f"the data key is {len(key)} bytes long; AES-256 needs exactly {KEY_BYTES} bytes "
            f"(44 characters of base64)"
        )


def key_id(key: bytes) -> str:
    """A short public name of a key: the first 4 bytes of its SHA-256, in hex."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES].hex()


def load_or_create_key(data_key: str | None, key_file: Path) -> bytes:
    """The data key: ``data_key`` if given (and not blank), else the key file, else a new key file.

    A new key file holds a fresh random key in base64 with mode 0600, in a folder created
    with mode 0700. When two processes start at once, both end up with the same key.
    """
    if data_key is not None and data_key.strip():
        return decode_key(data_key)
    try:
        return read_key_file(key_file)
    except FileNotFoundError:
        return _create_key_file(key_file)


def read_key_file(key_file: Path) -> bytes:
    text = Path(key_file).read_text(encoding="ascii", errors="replace")
    if not text.strip():
        raise DataKeyError(f"the key file {key_file} is empty")
    try:
        return decode_key(text)
    except DataKeyError as error:
        raise DataKeyError(f"the key file {key_file} is unusable: {error}") from error


def _create_key_file(key_file: Path) -> bytes:
    key_file = Path(key_file)
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(KEY_BYTES)
    # Write a private temporary file, then hard-link it into place: the link either
    # publishes a complete key file or fails because another process published first,
    # so no reader ever sees a half-written key and the file is never world-readable.
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            return read_key_file(key_file)
        _fsync_directory(key_file.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _fsync_directory(folder: Path) -> None:
    """Make the new directory entry durable: losing the key file would lose the data."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- field encryption and blind indexes --------------------------------------------------

_TOKEN_PATTERN = re.compile(rf"{TOKEN_VERSION}:([0-9a-f]{{{KEY_ID_BYTES * 2}}}):([A-Za-z0-9_\-]+=*)")


def looks_encrypted(value: str) -> bool:
    """Whether ``value`` has the shape of a FieldCipher token (it is not decrypted)."""
    return _TOKEN_PATTERN.fullmatch(value) is not None


def token_key_id(token: str) -> str:
    """The id of the key a token was encrypted with."""
    return _parse_token(token)[0]


def _parse_token(token: str) -> tuple[str, bytes]:
    match = _TOKEN_PATTERN.fullmatch(token)
    if match is None:
        raise DecryptionError(f"not an encrypted token (expected '{TOKEN_VERSION}:<key id>:<base64>')")
    try:
        payload = base64.b64decode(match.group(2), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise DecryptionError("the token's payload is not valid base64") from error
    if len(payload) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("the token is too short to hold a nonce and an authentication tag")
    return match.group(1), payload


class FieldCipher:
    """Authenticated encryption of single field values, plus blind indexes.

    ``key`` encrypts; ``old_keys`` (earlier keys after a rotation) only decrypt. The
    ``context`` of a value (for example ``"customers.email"``) is bound as associated
    data: decrypting under another context fails.
    """

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        keys_by_id: dict[str, bytes] = {}
        for candidate in (key, *old_keys):
            check_key_length(candidate)
            candidate_id = key_id(candidate)
            known = keys_by_id.get(candidate_id)
            if known is not None and known != candidate:
                raise DataKeyError(f"two different keys share the key id {candidate_id}; generate a new key")
            keys_by_id[candidate_id] = candidate
        self.key_id = key_id(key)
        self._ciphers = {kid: AESGCM(material) for kid, material in keys_by_id.items()}
        self._primary = self._ciphers[self.key_id]
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_BLIND_INDEX_INFO
        ).derive(key)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every key this cipher can decrypt with, the current one first."""
        return tuple(self._ciphers)

    def encrypt(self, plaintext: str | None, context: str) -> str | None:
        if plaintext is None:
            return None
        if not isinstance(plaintext, str):
            raise TypeError(f"{context}: only text is encrypted, got {type(plaintext).__name__}")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._primary.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{TOKEN_VERSION}:{self.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str | None, context: str) -> str | None:
        if token is None:
            return None
        token_id, payload = _parse_token(token)
        cipher = self._ciphers.get(token_id)
        if cipher is None:
            raise DecryptionError(
                f"the token was encrypted with key {token_id}, which is not loaded "
                f"(loaded: {', '.join(self._ciphers)}); pass the old key to FieldCipher(old_keys=...)"
            )
        try:
            plaintext = cipher.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError(
                f"the token fails authentication under context {context!r}: "
                "it was altered, or it belongs to another field"
            ) from None
        return plaintext.decode("utf-8")

    def needs_reencryption(self, token: str) -> bool:
        return token_key_id(token) != self.key_id

    def reencrypt(self, token: str, context: str) -> str:
        """The token under the current key; a token already under it is checked and returned as is."""
        plaintext = self.decrypt(token, context)
        if token_key_id(token) == self.key_id:
            return token
        sealed = self.encrypt(plaintext, context)
        assert sealed is not None
        return sealed

    def blind_index(self, value: str, context: str) -> str:
        """A keyed, deterministic digest of the normalised value for equality look-ups.

        Equal values (after :func:`normalise_for_index`) in the same context give equal
        indexes; the index depends on the current key, so rebuild indexes after a rotation.
        """
        message = context.encode("utf-8") + b"\x00" + normalise_for_index(value).encode("utf-8")
        return hmac.digest(self._index_key, message, "sha256").hex()[:BLIND_INDEX_HEX_CHARS]

    def blind_index_tokens(self, text: str, context: str) -> list[str]:
        """Blind indexes of the name tokens of ``text``, for searching a name by any of its parts."""
        return [self.blind_index(token, context) for token in name_tokens(text)]


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def normalise_for_index(value: str) -> str:
    """Case-, accent- and spacing-insensitive form: ``"  Seán  O’Brien "`` -> ``"sean o'brien"``."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.translate(_APOSTROPHES).casefold().split())


def name_tokens(text: str) -> list[str]:
    """Distinct normalised tokens of a name, apostrophes dropped: ``"Mary-Kate O'Brien"`` ->
    ``["mary", "kate", "obrien"]``."""
    tokens: list[str] = []
    for raw in re.split(r"[^\w']+", normalise_for_index(text)):
        token = raw.replace("'", "")
        if token and token not in tokens:
            tokens.append(token)
    return tokens


# --- redaction ---------------------------------------------------------------------------

RedactionKind = Literal["CARD", "EMAIL", "PHONE", "IBAN", "ACCOUNT", "POSTCODE", "NAME"]


class RedactionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    counts: dict[RedactionKind, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_HAS_DIGIT = re.compile(r"[0-9]")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+'\-])[A-Za-z0-9._%+'\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?![A-Za-z\-])"
)
_IBAN = re.compile(r"(?<![A-Za-z])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# Digit groups joined by single spaces or dashes, holding 13 digits or more.
_CARD_CANDIDATE = re.compile(r"(?<![0-9])(?=(?:[ \-]?[0-9]){13})[0-9]+(?:[ \-][0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_ACCOUNT_ID = re.compile(r"(?<![A-Za-z\-])[Aa][Cc]-[0-9]{5,10}(?![0-9])")
_ACCOUNT_WORD = re.compile(r"acc|a/c", re.IGNORECASE)
_ACCOUNT_NUMBER = re.compile(
    r"(?P<lead>\b(?:accounts?|acct|a/c)\b[^0-9\n]{0,25}?)(?<![\w\-])[0-9]{8,12}(?![0-9])", re.IGNORECASE
)
# Number tokens ("+353", "(087)", "123") joined by single spaces or dashes, holding 8 digits or more.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+\-/.,])(?<![0-9]:)(?=(?:[+() \-]{0,3}[0-9]){8})(?:\+[0-9]+|\([0-9]{1,5}\)|[0-9]+)(?:[ \-]?\([0-9]{1,5}\)|[ \-][0-9]+|(?<=\))[0-9]+)*"
)
_PHONE_TOKEN = re.compile(r"\+[0-9]+|\([0-9]+\)|[0-9]+")
_DATE_SHAPE = re.compile(r"(?<![0-9])(?:[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})(?![0-9])")
_POSTCODE = re.compile(
    r"\b(?:"
    r"(?:[AC-FHKNPRTV-Y][0-9]{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}"  # Irish Eircode
    r"|[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPS-UW0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}"  # UK postcode
    r")\b"
)

_MIN_CARD_DIGITS, _MAX_CARD_DIGITS = 13, 19
_AMEX_LIKE_LAYOUTS = ((4, 6, 5), (4, 6, 4))


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card_layout(group_lengths: list[int]) -> bool:
    """How cards are written: one unbroken run, groups of four (the last may be shorter), or
    the 4-6-5 / 4-6-4 layouts. Other groupings are too often amounts, years or references."""
    if len(group_lengths) == 1:
        return True
    if tuple(group_lengths) in _AMEX_LIKE_LAYOUTS:
        return True
    *leading, last = group_lengths
    return all(length == 4 for length in leading) and 1 <= last <= 4


def _date_spans(run: str) -> list[tuple[int, int]]:
    """Where ``run`` holds dates (2026-10-31, 31-10-2026): no card or phone overlaps one."""
    if "-" not in run:
        return []
    return [(match.start(), match.end()) for match in _DATE_SHAPE.finditer(run)]


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < other_end and other_start < span[1] for other_start, other_end in others)


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Spans of ``run`` (digit groups split by single spaces or dashes) that are Luhn-valid cards.

    Every plausible card inside the run counts and overlapping ones are merged, so
    digits glued to a card by a separator never shield part of it from redaction.
    """
    groups = [(match.start(), match.end()) for match in _DIGIT_GROUP.finditer(run)]
    dates = _date_spans(run)
    spans: list[tuple[int, int]] = []
    for first in range(len(groups)):
        digits = ""
        lengths: list[int] = []
        for last in range(first, len(groups)):
            start, end = groups[last]
            digits += run[start:end]
            lengths.append(end - start)
            if len(digits) > _MAX_CARD_DIGITS:
                break
            if len(digits) >= _MIN_CARD_DIGITS and _is_card_layout(lengths) and luhn_valid(digits):
                span = (groups[first][0], end)
                if not _overlaps(span, dates):
                    spans.append(span)
    return _merge_spans(spans)


_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 8, 15


def _is_phone(tokens: list[str], digit_count: int) -> bool:
    """International (+ or 00), national (leading 0 or an area code in parentheses) or
    North-American 3-3-4 numbers; never a date, never single digits strung together."""
    if any(len(token) < 2 for token in tokens[1:] if token[0].isdigit()):
        return False
    first = tokens[0]
    if first.startswith("+"):
        plausible = _MIN_PHONE_DIGITS <= digit_count <= _MAX_PHONE_DIGITS
    elif first.startswith("00"):
        plausible = 11 <= digit_count <= _MAX_PHONE_DIGITS
    elif first.startswith(("0", "(")):
        plausible = 9 <= digit_count <= 12
    else:
        plausible = [len(token) for token in tokens] == [3, 3, 4]
    return plausible


def _phone_spans(run: str) -> list[tuple[int, int]]:
    """Spans of ``run`` (number tokens with single separators) that are phone numbers.

    Every phone-like stretch of tokens counts and overlapping ones are merged, so a
    number glued to a phone (a year, a reference) cannot shield part of it.
    """
    tokens = [(match.start(), match.end(), match.group()) for match in _PHONE_TOKEN.finditer(run)]
    digits = [len(token) - (token[0] == "+") - 2 * (token[0] == "(") for _, _, token in tokens]
    dates = _date_spans(run)
    if not dates and _is_phone([token for _, _, token in tokens], sum(digits)):
        return [(0, len(run))]
    spans: list[tuple[int, int]] = []
    for first in range(len(tokens)):
        digit_count = 0
        for last in range(first, len(tokens)):
            digit_count += digits[last]
            if digit_count > _MAX_PHONE_DIGITS:
                break
            if digit_count < _MIN_PHONE_DIGITS:
                continue
            start, end = tokens[first][0], tokens[last][1]
            chosen = [token for _, _, token in tokens[first : last + 1]]
            if _is_phone(chosen, digit_count) and not _overlaps((start, end), dates):
                spans.append((start, end))
    return _merge_spans(spans)


def _replace_spans(run: str, spans: list[tuple[int, int]], placeholder: Callable[[str], str]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(run[cursor:start])
        pieces.append(placeholder(run[start:end]))
        cursor = end
    pieces.append(run[cursor:])
    return "".join(pieces)


def _iban_checksum_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban_span_length(candidate: str) -> int:
    """How much of an IBAN-shaped match to redact: the longest prefix (whole groups) that
    passes the mod-97 check, else all of it when it is long enough and its account part has
    8 or more digits (a mistyped IBAN is still personal data)."""
    cut = len(candidate)
    while cut >= 15:
        compact = candidate[:cut].replace(" ", "")
        if 15 <= len(compact) <= 34 and _iban_checksum_valid(compact):
            return cut
        space = candidate.rfind(" ", 0, cut)
        if space < 0:
            break
        cut = space
    plausible = len(candidate.replace(" ", "")) >= 15 and sum(char.isdigit() for char in candidate[4:]) >= 8
    return len(candidate) if plausible else 0


@dataclass(frozen=True)
class _KnownIdentifiers:
    emails: re.Pattern[str] | None
    phone_suffixes: tuple[str, ...]
    names: re.Pattern[str] | None
    name_needles: tuple[str, ...]  # a lower-case piece of each name, to skip texts that lack them all

    def may_name(self, text: str) -> bool:
        """False only when the text surely holds none of the names (a cheap test before the regex)."""
        if not text.isascii() or not all(needle.isascii() for needle in self.name_needles):
            return True
        lowered = text.lower()
        return any(needle in lowered for needle in self.name_needles)


_PHONE_IDENTIFIER = re.compile(r"[0-9\s+().\-]+")
_SUFFIX_DIGITS_OF_KNOWN_PHONE = 9
_MIN_NAME_LETTERS = 3


def _flexible_name(name: str) -> str:
    parts = [re.escape(part) for part in name.translate(_APOSTROPHES).split()]
    return r"\s+".join(parts).replace("'", "['\u2019]")


def _phone_suffix(phone: str) -> str:
    """The last nine digits: the national and international forms of one number share them."""
    return re.sub(r"[^0-9]", "", phone)[-_SUFFIX_DIGITS_OF_KNOWN_PHONE:]


def _name_needle(name: str) -> str:
    return max(re.split(r"[\s']+", name.translate(_APOSTROPHES)), key=len).lower()


@lru_cache(maxsize=512)
def _compile_known_identifiers(identifiers: tuple[str, ...]) -> _KnownIdentifiers:
    emails: set[str] = set()
    phone_suffixes: set[str] = set()
    names: set[str] = set()
    needles: set[str] = set()
    for identifier in identifiers:
        identifier = identifier.strip()
        if not identifier:
            continue
        if "@" in identifier:
            emails.add(re.escape(identifier))
        elif _PHONE_IDENTIFIER.fullmatch(identifier):
            if sum(char.isdigit() for char in identifier) >= 7:
                phone_suffixes.add(_phone_suffix(identifier))
        elif not any(char.isdigit() for char in identifier):
            for name in (identifier, *re.split(r"[\s\-]+", identifier)):
                name = name.strip(".,;:()\"")
                if sum(char.isalpha() for char in name) >= _MIN_NAME_LETTERS:
                    names.add(_flexible_name(name))
                    needles.add(_name_needle(name))
        # other identifiers (customer ids and the like) are pseudonymous: left alone

    def alternation(patterns: set[str]) -> str:
        return "|".join(sorted(patterns, key=lambda pattern: (-len(pattern), pattern)))

    return _KnownIdentifiers(
        emails=re.compile(rf"(?<![\w.+\-])(?:{alternation(emails)})(?![\w\-])", re.IGNORECASE) if emails else None,
        phone_suffixes=tuple(sorted(phone_suffixes)),
        # '[' before a name: it is (part of) a placeholder such as "[NAME]" or "[CARD ...]".
        names=re.compile(rf"(?<![\w\[])(?:{alternation(names)})(?!\w)", re.IGNORECASE) if names else None,
        name_needles=tuple(sorted(needles)),
    )


def _known(known_identifiers: Iterable[str]) -> _KnownIdentifiers:
    if isinstance(known_identifiers, str):
        known_identifiers = (known_identifiers,)
    return _compile_known_identifiers(tuple(known_identifiers))


_MAX_ROUNDS = 4


class _Redactor:
    """Redacts one text, counting what it replaced by kind."""

    def __init__(self, known: _KnownIdentifiers) -> None:
        self.known = known
        self.counts: dict[RedactionKind, int] = {}

    def count(self, kind: RedactionKind, how_many: int = 1) -> None:
        if how_many:
            self.counts[kind] = self.counts.get(kind, 0) + how_many

    def sub(self, pattern: re.Pattern[str], kind: RedactionKind, text: str) -> str:
        text, how_many = pattern.subn(f"[{kind}]", text)
        self.count(kind, how_many)
        return text

    def run(self, text: str) -> str:
        # A placeholder can expose what its neighbour hid (text glued to a card, say),
        # so rounds repeat until one replaces nothing: that is what makes redaction idempotent.
        for _ in range(_MAX_ROUNDS):
            replaced_before = sum(self.counts.values())
            text = self._round(text)
            if sum(self.counts.values()) == replaced_before:
                break
        return text

    def _round(self, text: str) -> str:
        known = self.known
        if "@" in text:
            if known.emails is not None:
                text = self.sub(known.emails, "EMAIL", text)
            text = self.sub(_EMAIL, "EMAIL", text)
        if _HAS_DIGIT.search(text):
            text = _IBAN.sub(self._iban, text)
            text = _CARD_CANDIDATE.sub(self._cards, text)
            if "C-" in text or "c-" in text:
                text = self.sub(_ACCOUNT_ID, "ACCOUNT", text)
            if _ACCOUNT_WORD.search(text):
                text = _ACCOUNT_NUMBER.sub(self._account_number, text)
            text = _PHONE_CANDIDATE.sub(self._phones, text)
            text = self.sub(_POSTCODE, "POSTCODE", text)
        if known.names is not None and known.may_name(text):
            text = self.sub(known.names, "NAME", text)
        return text

    def _iban(self, match: re.Match[str]) -> str:
        candidate = match.group()
        cut = _iban_span_length(candidate)
        if not cut:
            return candidate
        self.count("IBAN")
        return "[IBAN]" + candidate[cut:]

    def _cards(self, match: re.Match[str]) -> str:
        run = match.group()
        spans = _card_spans(run)
        self.count("CARD", len(spans))
        return _replace_spans(run, spans, lambda _: "[CARD]")

    def _account_number(self, match: re.Match[str]) -> str:
        self.count("ACCOUNT")
        return match.group("lead") + "[ACCOUNT]"

    def _phones(self, match: re.Match[str]) -> str:
        run = match.group()
        if _DATE_SHAPE.fullmatch(run):
            return run
        suffixes = self.known.phone_suffixes
        if suffixes and any(suffix in re.sub(r"[^0-9]", "", run) for suffix in suffixes):
            self.count("PHONE")
            return "[PHONE]"
        spans = _phone_spans(run)
        self.count("PHONE", len(spans))
        return _replace_spans(run, spans, lambda _: "[PHONE]")


def redact_text(text: str, known_identifiers: Iterable[str] = ()) -> RedactionResult:
    """Replace personal data in ``text`` with typed placeholders and count them by kind.

    ``known_identifiers`` are the customer's own identifiers (full name, e-mail, phone):
    the full name and each name part of three or more letters are matched
    case-insensitively as whole words (so also "Mary's"); identifiers with digits that
    are not phone numbers, such as customer ids, are left alone. Redacting twice
    changes nothing more.
    """
    redactor = _Redactor(_known(known_identifiers))
    redacted = redactor.run(text)
    return RedactionResult(text=redacted, counts=redactor.counts)


def redact(text: str, known_identifiers: Iterable[str] = ()) -> str:
    """:func:`redact_text`, returning only the text."""
    return _Redactor(_known(known_identifiers)).run(text)


def mask_card_numbers(text: str) -> str:
    """Mask Luhn-valid card numbers only, keeping the last four digits: ``"[CARD ****1111]"``."""
    if not _HAS_DIGIT.search(text):
        return text

    def mask(match: re.Match[str]) -> str:
        run = match.group()
        return _replace_spans(run, _card_spans(run), lambda card: f"[CARD ****{re.sub('[^0-9]', '', card)[-4:]}]")

    return _CARD_CANDIDATE.sub(mask, text)


def redact_mapping(obj: Any, known_identifiers: Iterable[str] = ()) -> Any:
    """A copy of ``obj`` with every string inside dicts, lists, tuples and sets redacted.

    Mapping keys are kept as they are (they name fields); other values pass unchanged.
    """
    known = _known(known_identifiers)
    return _redact_value(obj, known)


def _redact_value(value: Any, known: _KnownIdentifiers) -> Any:
    if isinstance(value, str):
        return _Redactor(known).run(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item, known) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item, known) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(item, known) for item in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_redact_value(item, known) for item in value)
    return value
