"""Print deterministic, checksum-valid wallet addresses for writing corpus tips by hand.

Run: .venv/bin/python tests/corpus/make_wallets.py [SEED]
The corpus (tips.jsonl) is the source of truth; this only saves computing checksums by
hand when adding tips. Each address is derived from SHA-256 of the seed and a label,
so the same seed prints the same addresses. "broken" variants have one character or
one letter's case changed and must be refused by the extractor.
"""

from __future__ import annotations

import hashlib
import sys

import base58

from triage.wallets import eip55

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GEN):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _to_5bit(data: bytes) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def segwit(version: int, program: bytes) -> str:
    """Encode a mainnet segwit address (bech32 for v0, bech32m otherwise)."""
    const = 1 if version == 0 else 0x2BC830A3
    data = [version, *_to_5bit(program)]
    hrp = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    mod = _polymod(hrp + data + [0] * 6) ^ const
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return "bc1" + "".join(_CHARSET[d] for d in data + checksum)


def _digest(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"{seed}/{label}".encode()).digest()


def _base58check(version: int, payload: bytes) -> str:
    return str(base58.b58encode_check(bytes([version]) + payload).decode("ascii"))


def main(seed: str) -> None:
    """Print one address of each kind per index, plus broken variants."""
    for n in range(1, 9):
        h20 = _digest(seed, f"h20-{n}")[:20]
        h32 = _digest(seed, f"h32-{n}")
        evm = "0x" + eip55(h20.hex())
        print(f"EVM{n}      {evm}")
        print(f"EVMLOW{n}   {evm.lower()}")
        broken_at = next(i for i, c in enumerate(evm) if i > 1 and c.isalpha())
        flipped = evm[broken_at].swapcase()
        print(f"EVMBAD{n}   {evm[:broken_at]}{flipped}{evm[broken_at + 1 :]}")
        print(f"P2PKH{n}    {_base58check(0x00, h20)}")
        print(f"P2SH{n}     {_base58check(0x05, h20)}")
        print(f"TRON{n}     {_base58check(0x41, h20)}")
        print(f"WPKH{n}     {segwit(0, h20)}")
        print(f"WSH{n}      {segwit(0, h32)}")
        print(f"TAPROOT{n}  {segwit(1, h32)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tipline-corpus")
