"""Find cryptocurrency wallet addresses (BTC, EVM, TRON) and validate them by checksum.

The is_* validators take an address exactly as written and answer yes or no; they are
usable on their own (watchlist import, investigator input). Checksums are what keep a
random 34-character string, or an address with one character mistyped, out of the
evidence. EIP-55 uses Keccak-256 (pycryptodome), which is not NIST SHA3-256 (hashlib).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import base58
from Crypto.Hash import keccak

from triage import payments
from triage.textscan import TextScan

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_VALUES = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_CONST = 1  # BIP-173: witness version 0
_BECH32M_CONST = 0x2BC830A3  # BIP-350: witness versions 1..16

_BTC_P2PKH_VERSION = 0x00
_BTC_P2SH_VERSION = 0x05
_TRON_VERSION = 0x41
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_BASE58_PAYLOAD_LEN = 21  # one version byte and a 20-byte hash; checksum not included


# Cached: a scam's deposit address recurs in tip after tip, and checksums are dear.
@functools.lru_cache(maxsize=65536)
def _base58check_version(address: str) -> int | None:
    """Return the version byte of a valid 25-byte base58check address, else None."""
    try:
        payload = base58.b58decode_check(address)
    except ValueError:
        return None
    if len(payload) != _BASE58_PAYLOAD_LEN:
        return None
    return int(payload[0])


def is_btc_base58(address: str) -> bool:
    """Tell whether a legacy (P2PKH '1…') or P2SH ('3…') bitcoin address is valid."""
    return _base58check_version(address) in (_BTC_P2PKH_VERSION, _BTC_P2SH_VERSION)


def is_tron(address: str) -> bool:
    """Tell whether a TRON 'T…' address is valid base58check with version 0x41."""
    return _base58check_version(address) == _TRON_VERSION


def _bech32_polymod(values: list[int]) -> int:
    """Compute the BCH checksum polynomial of BIP-173 over 5-bit values."""
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATORS):
            if (top >> i) & 1:
                chk ^= generator
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    """Expand the human-readable part for checksumming (BIP-173)."""
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int) -> list[int] | None:
    """Regroup bits without padding, as a segwit decoder must; None if ill-formed."""
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    # Leftover bits must be fewer than a group and all zero (BIP-173 decoding rule).
    if bits >= from_bits or (acc << (to_bits - bits)) & max_value:
        return None
    return out


@functools.lru_cache(maxsize=65536)
def is_btc_bech32(address: str) -> bool:
    """Tell whether a native segwit address (bc1q… bech32, bc1p… bech32m) is valid."""
    if len(address) > 90 or (address.lower() != address and address.upper() != address):
        return False  # BIP-173: at most 90 characters, never mixed case
    address = address.lower()
    hrp, sep, data_part = address.rpartition("1")
    if not sep or hrp != "bc" or len(data_part) < 6:
        return False
    try:
        data = [_BECH32_VALUES[c] for c in data_part]
    except KeyError:
        return False
    const = _bech32_polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST) or len(data) < 7:
        return False
    version = data[0]
    program = _convert_bits(data[1:-6], 5, 8)
    if version > 16 or program is None or not 2 <= len(program) <= 40:
        return False
    if version == 0:
        return const == _BECH32_CONST and len(program) in (20, 32)
    return const == _BECH32M_CONST


def keccak256_hex(data: bytes) -> str:
    """Return the Keccak-256 digest (Ethereum's, not NIST SHA3-256) as hex."""
    return str(keccak.new(digest_bits=256, data=data).hexdigest())


def eip55(address_hex: str) -> str:
    """Return the EIP-55 mixed-case spelling of 40 hex digits (without 0x)."""
    lower = address_hex.lower()
    digest = keccak256_hex(lower.encode("ascii"))
    return "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
    )


@functools.lru_cache(maxsize=65536)
def is_evm(address: str) -> bool:
    """Tell whether a 0x address is acceptable: all one case, or a correct EIP-55 checksum."""
    if len(address) != 42 or address[:2] not in ("0x", "0X"):
        return False
    body = address[2:]
    if not all(c in _HEX_DIGITS for c in body):
        return False
    if body == body.lower() or body == body.upper():
        return True  # no checksum information to check
    return body == eip55(body)


# --------------------------------------------------------------------------- finding

_B58 = "1-9A-HJ-NP-Za-km-z"
_EVM_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])0[xX][0-9a-fA-F]{40}(?![0-9a-fA-F])")
_EVM_GUARD = "0x"  # in TextScan.lower
# Runs are matched long and then tried at the usual lengths, longest first, so an
# address glued to ASCII text ("…Lj6tUSDT") is still found; the checksum decides.
# (The look-behind follows the first character so that the regex engine can skip ahead
# to the characters an address starts with, instead of trying every position.)
_BASE58_RUN = re.compile(rf"[13T](?<![0-9A-Za-z][13T])[{_B58}]{{25,44}}")
_BECH32_RUN = re.compile(r"(?<![0-9A-Za-z])bc1[02-9ac-hj-np-z]{6,87}", re.IGNORECASE)
_BECH32_GUARD = "bc1"  # in TextScan.lower
_BTC_LENGTHS = tuple(range(34, 25, -1))
_TRON_LENGTHS = (34,)
_BECH32_LENGTHS = (62, 42)  # P2WSH/P2TR, P2WPKH


def _valid_prefix(run: str, lengths: tuple[int, ...], valid: Callable[[str], bool]) -> str:
    """Return the run if valid, else its longest valid prefix of a usual length, else ''."""
    if valid(run):
        return run
    return next((run[:n] for n in lengths if n < len(run) and valid(run[:n])), "")


def scan_evm(scan: TextScan) -> None:
    """Find 0x addresses, refusing mixed case that fails EIP-55; values are lower-case."""
    if _EVM_GUARD not in scan.lower:
        return
    for m in _EVM_CANDIDATE.finditer(scan.text):
        # A payment request's token contract is not whom the reporter paid.
        if is_evm(m.group()) and not payments.token_contract_at(scan.text, *m.span()):
            scan.add(m.start(), m.end(), "evm", m.group().lower())


def scan_base58(scan: TextScan) -> None:
    """Find legacy/P2SH bitcoin addresses and TRON addresses by base58check."""
    for m in _BASE58_RUN.finditer(scan.text):
        run = m.group()
        if run[0] == "T":
            found, kind = _valid_prefix(run, _TRON_LENGTHS, is_tron), "tron"
        else:
            found, kind = _valid_prefix(run, _BTC_LENGTHS, is_btc_base58), "btc"
        if found:
            scan.add(m.start(), m.start() + len(found), kind, found)


def scan_bech32(scan: TextScan) -> None:
    """Find native segwit bitcoin addresses (bech32 / bech32m); values are lower-case."""
    if _BECH32_GUARD not in scan.lower:
        return
    for m in _BECH32_RUN.finditer(scan.text):
        found = _valid_prefix(m.group(), _BECH32_LENGTHS, is_btc_bech32)
        if found:
            scan.add(m.start(), m.start() + len(found), "btc", found.lower())
