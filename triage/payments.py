"""Find payment channels in a tip: receive codes, payment URIs and bank cards.

What a receive code's QR holds, and what reporters paste or type, alike:
- `wechat_pay`: a WeChat Pay receive code, `wxp://…`, as decoded (case kept);
- `alipay`: the code of a `qr.alipay.com/<code>` link, lower-case;
- `unionpay`: the path of a `qr.95516.com/<path>` link, as written;
- `wechat_group`: the code of a `weixin.qq.com/g/<code>` group invite, case kept;
- `bank_card`: digits only, Luhn-valid, with a known issuer prefix, near a word that says
  card (银行卡, 卡号, card…): a 16-digit order number is not a card;
- an EIP-681 `ethereum:<token>@<chain>/transfer?address=<payee>` names the payee (`evm`),
  not the token contract (`token_contract_at`, asked by the address scanner); a plain
  `ethereum:<address>` or BIP21 `bitcoin:<address>?amount=…` needs nothing here.

The links' hosts are platforms (alipay.com, qq.com are allowlisted): the code in the
path is what names the account behind them.
"""

from __future__ import annotations

import re

from triage.textscan import TextScan

_WXP = re.compile(r"(?<![A-Za-z0-9])wxp://[A-Za-z0-9_\-]{8,128}(?![A-Za-z0-9_\-])",
                  re.IGNORECASE)
# What follows the token contract of an EIP-681 token transfer: "@<chain>/transfer?".
_TRANSFER_AFTER = re.compile(r"(?:@\d{1,10})?/transfer\?", re.IGNORECASE)
_URI_BEFORE = ("ethereum:", "ethereum:pay-")

# Hosts whose path carries a payment or group code, and the code's pattern there.
_ALIPAY_HOSTS = frozenset({"qr.alipay.com", "qr.alipay.cn"})
_ALIPAY_PATH = re.compile(r"/(?P<code>[A-Za-z0-9]{6,64})(?=$|[/?#])")
_UNIONPAY_HOST = "qr.95516.com"
_UNIONPAY_PATH = re.compile(r"/(?P<code>[0-9A-Za-z]{4,64}(?:/[0-9A-Za-z]{4,64}){0,3})(?=$|[?#])")
_WECHAT_GROUP_HOSTS = frozenset({"weixin.qq.com", "www.weixin.qq.com"})
_WECHAT_GROUP_PATH = re.compile(r"/g/(?P<code>[A-Za-z0-9_\-]{8,64})(?=$|[/?#])")

# Card numbers: 15-19 digits, written whole or in groups of four.
_CARD = re.compile(r"(?<![\d.])\d{4}(?:[ \-]?\d{2,4}){2,4}(?:[ \-]?\d{1,3})?(?![\d.])")
_CARD_GUARD = re.compile(r"\d{4}[ \-]?\d{4}[ \-]?\d{4}")
_CARD_WORDS = re.compile(
    r"银行卡|卡号|储蓄卡|借记卡|信用卡|收款卡|银行账号|银行帐号|账号|帐号|开户行|"
    r"card|account no|acct",
    re.IGNORECASE,
)
_CARD_WINDOW = 24  # characters before the number that may hold the word
# Issuer prefixes (IIN ranges) and the lengths they issue.
_ISSUERS: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = (
    (("62",), (16, 17, 18, 19)),  # UnionPay: nearly every card issued in mainland China
    (("4",), (16, 19)),  # Visa
    (("51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27"), (16,)),  # Mastercard
    (("34", "37"), (15,)),  # American Express
    (("35",), (16, 17, 18, 19)),  # JCB
)


def scan_payment_uris(scan: TextScan) -> None:
    """Find wxp:// receive codes."""
    if "wxp:" not in scan.lower:
        return
    for m in _WXP.finditer(scan.text):
        scan.add(m.start(), m.end(), "wechat_pay", "wxp://" + m.group()[len("wxp://"):])


def token_contract_at(text: str, start: int, end: int) -> bool:
    """Tell whether the address at [start, end) is an EIP-681 transfer's token contract.

    In `ethereum:<token>@1/transfer?address=<payee>` the payee is the one paid; the
    contract (USDT's, say) is named by every such request and says nothing of the payee.
    """
    before = text[max(0, start - len("ethereum:pay-")):start].lower()
    return before.endswith(_URI_BEFORE) and _TRANSFER_AFTER.match(text, end) is not None


def link_codes(ascii_host: str, path: str) -> tuple[int, int, str, str] | None:
    """The payment or group code a link's path carries: (start, end in path, kind, value)."""
    if ascii_host in _ALIPAY_HOSTS:
        m = _ALIPAY_PATH.match(path)
        return None if m is None else (*m.span("code"), "alipay", m["code"].lower())
    if ascii_host == _UNIONPAY_HOST:
        m = _UNIONPAY_PATH.match(path)
        return None if m is None else (*m.span("code"), "unionpay", m["code"])
    if ascii_host in _WECHAT_GROUP_HOSTS:
        m = _WECHAT_GROUP_PATH.match(path)
        return None if m is None else (*m.span("code"), "wechat_group", m["code"])
    return None


def luhn_ok(digits: str) -> bool:
    """Tell whether a digit string passes the Luhn check."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_bank_card(digits: str) -> bool:
    """Tell whether digits are a card number: a known issuer's prefix and length, Luhn-valid."""
    return any(digits.startswith(prefixes) and len(digits) in lengths
               for prefixes, lengths in _ISSUERS) and luhn_ok(digits)


def scan_bank_cards(scan: TextScan) -> None:
    """Find card numbers written near a word that says card."""
    text = scan.text
    if _CARD_GUARD.search(text) is None or _CARD_WORDS.search(text) is None:
        return
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ \-]", "", m.group())
        if not is_bank_card(digits):
            continue
        if _CARD_WORDS.search(text, max(0, m.start() - _CARD_WINDOW), m.start()) is None:
            continue
        if scan.free(m.start(), m.end()):
            scan.add(m.start(), m.end(), "bank_card", digits)
