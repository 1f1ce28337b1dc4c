"""Identifier extraction: accuracy over the labelled tip corpus, and the rules as user stories."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from triage import hosts, wallets
from triage.extract import KINDS, Identifier, as_json, extract

CORPUS = Path(__file__).parent / "corpus" / "tips.jsonl"
THRESHOLD = 0.97
MIN_TIPS = 220
MIN_POSITIVES = 10  # per kind: with fewer, one slip would swing the ratio past any bar


@dataclass(frozen=True)
class Tip:
    line: int
    text: str
    expected: frozenset[tuple[str, str]]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_corpus() -> list[Tip]:
    tips = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        record = json.loads(line)
        expected = frozenset((e["kind"], e["value"]) for e in record["expected"])
        tips.append(Tip(number, record["text"], expected))
    return tips


def score(
    tips: list[Tip], extractor: Callable[[str], list[Identifier]]
) -> tuple[dict[str, Score], list[str]]:
    """Score an extractor per kind; also return a readable line per disagreeing tip."""
    scores = {kind: Score() for kind in KINDS}
    misses = []
    for tip in tips:
        got = {(i.kind, i.value) for i in extractor(tip.text)}
        for kind, _ in got & tip.expected:
            scores[kind].tp += 1
        for kind, _ in got - tip.expected:
            scores[kind].fp += 1
        for kind, _ in tip.expected - got:
            scores[kind].fn += 1
        if got != tip.expected:
            misses.append(
                f"line {tip.line}: {tip.text!r}\n"
                f"    missed {sorted(tip.expected - got)}\n    extra  {sorted(got - tip.expected)}"
            )
    return scores, misses


def table(scores: dict[str, Score]) -> str:
    rows = [f"{'kind':<17} {'tp':>4} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>7}"]
    for kind, s in scores.items():
        rows.append(
            f"{kind:<17} {s.tp:>4} {s.fp:>3} {s.fn:>3} {s.precision:>9.3f} {s.recall:>7.3f}"
        )
    return "\n".join(rows)


@pytest.fixture(scope="module")
def corpus() -> list[Tip]:
    return load_corpus()


@pytest.fixture(scope="module")
def corpus_score(corpus: list[Tip]) -> tuple[dict[str, Score], list[str]]:
    return score(corpus, extract)


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], None]]:
    """Print past pytest's capture, so the table shows in an ordinary run."""

    def emit(text: str) -> None:
        with capsys.disabled():
            print(text)

    yield emit


def kinds_of(text: str) -> list[tuple[str, str]]:
    return [(i.kind, i.value) for i in extract(text)]


# --------------------------------------------------------------------------- the corpus


def test_the_corpus_is_big_enough_and_covers_every_kind(corpus: list[Tip]) -> None:
    assert len(corpus) >= MIN_TIPS
    positives = Counter(kind for tip in corpus for kind, _ in tip.expected)
    assert set(positives) <= set(KINDS)
    thin = {kind: positives[kind] for kind in KINDS if positives[kind] < MIN_POSITIVES}
    assert not thin, f"kinds with too few labelled examples: {thin}"
    assert sum(1 for tip in corpus if not tip.expected) >= 40, "look-alikes that yield nothing"


def test_every_kind_reaches_the_precision_and_recall_bar(
    corpus_score: tuple[dict[str, Score], list[str]], report: Callable[[str], None]
) -> None:
    scores, misses = corpus_score
    report("\nextraction accuracy on tests/corpus/tips.jsonl\n" + table(scores))
    if misses:
        report("disagreements:\n" + "\n".join(misses))
    below = {
        kind: (round(s.precision, 3), round(s.recall, 3))
        for kind, s in scores.items()
        if s.precision < THRESHOLD or s.recall < THRESHOLD
    }
    assert not below, f"kinds below {THRESHOLD}: {below}"


def test_the_accuracy_gate_notices_an_extractor_that_misses_or_invents(
    corpus: list[Tip],
) -> None:
    silent, _ = score(corpus, lambda text: [])
    assert all(s.recall == 0.0 for s in silent.values())
    noisy, _ = score(
        corpus, lambda text: [*extract(text), Identifier("phone", "+8613800000000", "")]
    )
    assert noisy["phone"].precision < THRESHOLD


# --------------------------------------------------------------------------- wallets

USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_EVM = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.mark.parametrize(
    "text",
    [
        f"地址：{USDT_TRON}，转完截图",
        f"「{USDT_TRON}」",
        f"【{USDT_TRON}】。",
        f"往{USDT_TRON}转USDT",
        f"TRC20:{USDT_TRON}USDT",
    ],
)
def test_a_wallet_address_glued_to_chinese_punctuation_is_found(text: str) -> None:
    assert kinds_of(text) == [("tron", USDT_TRON)]


def test_an_evm_address_with_a_broken_eip55_checksum_is_refused() -> None:
    broken = USDT_EVM.replace("dAC17", "dac17")
    assert kinds_of(f"合约地址{broken}") == []
    assert kinds_of(f"合约地址{USDT_EVM}") == [("evm", USDT_EVM.lower())]


def test_an_evm_address_in_one_case_needs_no_checksum() -> None:
    body = USDT_EVM[2:]
    assert kinds_of(f"0x{body.lower()}") == [("evm", USDT_EVM.lower())]
    assert kinds_of(f"0x{body.upper()}") == [("evm", USDT_EVM.lower())]


@pytest.mark.parametrize(
    "address",
    [  # the EIP-55 specification's own examples
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ],
)
def test_eip55_is_computed_with_keccak_not_nist_sha3(address: str) -> None:
    assert "0x" + wallets.eip55(address[2:]) == address
    assert wallets.keccak256_hex(b"") == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_a_transaction_hash_is_not_an_evm_address() -> None:
    assert kinds_of("交易哈希 0x" + "ab12" * 16) == []


def test_a_bitcoin_address_with_one_character_changed_is_refused() -> None:
    assert kinds_of(f"BTC {GENESIS}") == [("btc", GENESIS)]
    assert kinds_of(f"BTC {GENESIS[:-1]}b") == []


def test_a_tron_address_with_swapped_characters_is_refused() -> None:
    swapped = USDT_TRON[:-2] + USDT_TRON[-1] + USDT_TRON[-2]
    assert kinds_of(f"USDT地址{swapped}") == []


def test_a_tron_checksum_on_a_bitcoin_version_byte_is_not_tron() -> None:
    assert not wallets.is_tron(GENESIS)
    assert not wallets.is_btc_base58(USDT_TRON)


@pytest.mark.parametrize(
    "address",
    [  # BIP-173 / BIP-350 mainnet test vectors
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "BC1SW50QGDZ25J",
        "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    ],
)
def test_valid_segwit_addresses_pass_bech32_or_bech32m(address: str) -> None:
    assert wallets.is_btc_bech32(address)


@pytest.mark.parametrize(
    "address",
    [  # BIP-350 invalid vectors: wrong checksum flavour, bad version, length, padding, case
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "bc1pw5dgrnzv",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "bc1gmk9yu",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8F3t4",
    ],
)
def test_invalid_segwit_addresses_are_refused(address: str) -> None:
    assert not wallets.is_btc_bech32(address)
    assert kinds_of(f"地址 {address}") == []


def test_an_upper_case_segwit_address_comes_out_lower_case() -> None:
    assert kinds_of("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4") == [
        ("btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    ]


def test_an_address_inside_an_explorer_link_is_still_found() -> None:
    found = kinds_of(f"https://tronscan.org/#/address/{USDT_TRON}")
    assert ("tron", USDT_TRON) in found
    assert ("domain", "tronscan.org") in found


# --------------------------------------------------------------------------- contact IDs


@pytest.mark.parametrize(
    "keyword",
    [
        "微信",
        "微信号",
        "VX",
        "vx",
        "V信",
        "v信",
        "加V",
        "加v",
        "wx",
        "WX",
        "威信",
        "薇信",
        "徽信",
        "维信",
        "蔚信",
        "WeChat ID",
    ],
)
@pytest.mark.parametrize("separator", ["：", ":", " ", "号", "是", "「", "："])
def test_evasive_wechat_keywords_introduce_a_wechat_id(keyword: str, separator: str) -> None:
    closing = "」" if separator == "「" else ""
    assert kinds_of(f"客服{keyword}{separator}Huobi_kf88{closing}，快加") == [
        ("wechat_id", "huobi_kf88")
    ]


def test_a_wechat_id_is_only_taken_next_to_its_keyword() -> None:
    assert kinds_of("他的名字是 huobi_kf88 还是什么") == []


def test_a_wechat_id_must_start_with_a_letter_and_have_six_to_twenty_characters() -> None:
    assert kinds_of("微信：abc12") == []
    assert kinds_of("微信：a" + "b" * 20) == []
    assert kinds_of("微信：_abc123") == []


def test_wechat_followed_by_an_ordinary_english_word_is_not_an_id() -> None:
    assert kinds_of("I paid through WeChat transfer and WeChat payment") == []


def test_full_width_characters_are_read_as_ascii_and_raw_keeps_them() -> None:
    [found] = extract("ＶＸ：ｃｏｉｎ＿ｋｉｎｇ８８")
    assert (found.kind, found.value, found.raw) == (
        "wechat_id",
        "coin_king88",
        "ｃｏｉｎ＿ｋｉｎｇ８８",
    )


def test_zero_width_characters_inserted_to_dodge_filters_are_ignored() -> None:
    [found] = extract("加微\u200b信：kefu\u200b_9988")
    assert (found.kind, found.value) == ("wechat_id", "kefu_9988")
    assert found.raw == "kefu\u200b_9988"


@pytest.mark.parametrize("keyword", ["QQ", "qq", "扣扣", "企鹅", "Q号", "QQ群", "QQ号码"])
def test_qq_keywords_introduce_a_qq_number(keyword: str) -> None:
    assert kinds_of(f"{keyword}：283546771") == [("qq", "283546771")]


def test_a_qq_number_does_not_start_with_zero_and_has_five_to_eleven_digits() -> None:
    assert kinds_of("QQ：0123456") == []
    assert kinds_of("QQ：1234") == []
    assert kinds_of("QQ：123456789012") == []


def test_a_verification_code_is_not_a_qq_number() -> None:
    assert kinds_of("验证码 123456，QQ音乐会员 887766") == []


@pytest.mark.parametrize("keyword", ["飞机", "纸飞机", "TG", "tg", "telegram", "Telegram", "电报"])
def test_telegram_keywords_introduce_a_handle(keyword: str) -> None:
    assert kinds_of(f"{keyword}：@Crypto_King88") == [("telegram", "crypto_king88")]


def test_a_telegram_invite_link_is_a_url_not_a_handle() -> None:
    assert kinds_of("https://t.me/joinchat/AAAAAEk8x2Qm9Y t.me/+Qx7Yz1AbCdE5ZTZl") == [
        ("url", "https://t.me/joinchat/AAAAAEk8x2Qm9Y"),
        ("domain", "t.me"),
        ("url", "https://t.me/+Qx7Yz1AbCdE5ZTZl"),
    ]


def test_a_telegram_link_yields_the_handle_lower_cased() -> None:
    assert ("telegram", "huobi_support") in kinds_of("t.me/Huobi_Support")


def test_an_official_account_original_id_is_found_with_or_without_keyword() -> None:
    assert kinds_of("gh_3f2a9c1d7e4b") == [("official_account", "gh_3f2a9c1d7e4b")]
    assert kinds_of("gh_3f2a9c1d7e4") == []


def test_an_mp_weixin_link_yields_its_biz_url_decoded() -> None:
    found = kinds_of(
        "https://mp.weixin.qq.com/mp/profile_ext?action=home&__biz=MzIxNzg1ODQ0MQ%3D%3D"
    )
    assert ("official_account", "MzIxNzg1ODQ0MQ==") in found
    assert ("domain", "qq.com") in found


def test_an_official_account_display_name_is_a_name() -> None:
    assert kinds_of("公众号：币圈老王，天天推币") == [("name", "币圈老王")]


# --------------------------------------------------------------------------- phones


def test_an_order_number_is_not_a_phone_number() -> None:
    assert kinds_of("订单号 20230915123456") == []
    assert kinds_of("订单号：13800138000") == []


def test_an_amount_is_not_a_phone_number() -> None:
    assert kinds_of("转账13800138000元") == []
    assert kinds_of("¥13800138000") == []


@pytest.mark.parametrize("number", ["12345678901", "10012345678", "11000000000", "14012345678"])
def test_eleven_digits_that_are_not_a_chinese_mobile_are_not_a_phone(number: str) -> None:
    assert kinds_of(f"号码{number}") == []


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("010-62345678", "+861062345678"),
        ("(0755)86001234", "+8675586001234"),
        ("+852 9123 4567", "+85291234567"),
        ("+886 912 345 678", "+886912345678"),
        ("+1 415-555-2671", "+14155552671"),
        ("１８６１２３４５６７８", "+8618612345678"),
    ],
)
def test_phone_numbers_come_out_in_e164(text: str, e164: str) -> None:
    assert kinds_of(f"电话：{text}，") == [("phone", e164)]


@pytest.mark.parametrize(
    "text",
    ["0086 138 1234 5678", "0086-13812345678", "008613812345678", "0086 138-1234-5678"],
)
def test_a_mobile_written_with_chinas_0086_prefix_is_found_as_with_plus(text: str) -> None:
    assert kinds_of(f"客服电话 {text} 找他") == [("phone", "+8613812345678")]


def test_a_fixed_line_written_with_0086_drops_its_trunk_zero() -> None:
    assert kinds_of("座机 0086 10 6234 5678") == [("phone", "+861062345678")]


def test_0086_inside_a_longer_number_is_not_a_phone() -> None:
    assert kinds_of("拨打10086查询") == []
    assert kinds_of("订单号 0086138123456789") == []
    assert kinds_of("单号：0086-13812345678") == []


def test_bank_card_and_id_card_numbers_are_not_identifiers() -> None:
    assert kinds_of("银行卡6222021234567890123，身份证11010119900307123X") == []
    assert kinds_of("卡号：6222 0212 3456 7890 123") == []


def test_a_premium_rate_or_service_number_is_not_a_phone() -> None:
    assert kinds_of("热线400-820-8820") == []


# --------------------------------------------------------------------------- links


def test_a_url_also_yields_its_registrable_domain() -> None:
    assert kinds_of("https://m.Huobi-VIP.com.cn/reg?c=1。") == [
        ("url", "https://m.huobi-vip.com.cn/reg?c=1"),
        ("domain", "huobi-vip.com.cn"),
    ]


def test_an_email_also_yields_its_domain() -> None:
    assert kinds_of("邮箱：Kefu@Coin-King.vip，") == [
        ("email", "kefu@coin-king.vip"),
        ("domain", "coin-king.vip"),
    ]


def test_a_chinese_domain_comes_out_as_punycode() -> None:
    [found] = extract("请访问币安.com注册")
    assert (found.kind, found.value, found.raw) == ("domain", "xn--49s50d.com", "币安.com")


def test_a_domain_glued_to_chinese_text_is_found() -> None:
    assert kinds_of("网址huobi-vip.com，后来又换成okx-cn.top了") == [
        ("domain", "huobi-vip.com"),
        ("domain", "okx-cn.top"),
    ]


def test_a_full_width_parenthesis_ends_a_link() -> None:
    assert kinds_of("链接http://1.2.3.4/reg（IP）")[0] == ("url", "http://1.2.3.4/reg")


@pytest.mark.parametrize(
    "name",
    [
        "photo.jpg",
        "截图.png",
        "report.pdf",
        "app.apk",
        "name.exe",
        "data.zip",
        "run.sh",
        "README.md",
        "voice.silk",
        "合约.py",
        "IMG_20230915.JPG",
        "白皮书.docx",
    ],
)
def test_file_names_are_not_domains(name: str) -> None:
    assert kinds_of(f"附件：{name}") == []


@pytest.mark.parametrize(
    "text", ["v1.2.3", "2024.03.15", "1.5 BTC", "3.14", "192.168.1.1", "Mr.Li"]
)
def test_version_numbers_dates_and_sentences_are_not_domains(text: str) -> None:
    assert kinds_of(text) == []


def test_a_host_with_a_path_is_a_url_even_without_a_scheme() -> None:
    assert kinds_of("gate-vip.org/h5/reg?ref=7788") == [
        ("url", "http://gate-vip.org/h5/reg?ref=7788"),
        ("domain", "gate-vip.org"),
    ]


# --------------------------------------------------------------------------- names


def test_a_platform_introduced_by_its_keyword_is_a_name() -> None:
    assert kinds_of("平台叫币安国际，让我充值") == [("name", "币安国际")]
    assert kinds_of("一个叫“OKX Pro”的交易所") == [("name", "okx pro")]


def test_prose_after_a_name_keyword_is_not_a_name() -> None:
    assert kinds_of("这个平台是假的，平台叫我们先充值，老师叫大家上车") == []
    assert kinds_of("所谓的“稳赚不赔”就是骗人的") == []


# --------------------------------------------------------------------------- API


def test_duplicates_are_reported_once_in_order_of_first_appearance() -> None:
    text = f"QQ：12345678，{USDT_TRON}，qq 12345678，地址{USDT_TRON}，微信：abc_123456"
    assert kinds_of(text) == [("qq", "12345678"), ("tron", USDT_TRON), ("wechat_id", "abc_123456")]


def test_as_json_gives_kind_value_and_raw() -> None:
    assert as_json(extract("ＱＱ：１２３４５")) == [
        {"kind": "qq", "value": "12345", "raw": "１２３４５"}
    ]


def test_an_empty_or_plain_tip_yields_nothing() -> None:
    assert extract("") == []
    assert extract("我被骗了，请帮帮我") == []


def test_extraction_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    hosts._suffix_extractor.cache_clear()  # force the suffix list to load again, offline
    hosts.split_host.cache_clear()
    assert kinds_of("https://www.example.co.uk/x") == [
        ("url", "https://www.example.co.uk/x"),
        ("domain", "example.co.uk"),
    ]


def test_the_extractor_imports_neither_aiohttp_nor_wechatpy() -> None:
    code = "import sys, triage.extract; print(sorted({'aiohttp', 'wechatpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_mobile_shortcut_agrees_with_a_full_phonenumbers_parse() -> None:
    import random

    import phonenumbers

    from triage import contacts

    rng = random.Random(5)
    for _ in range(3000):
        digits = "1" + "".join(rng.choices("0123456789", k=10))
        full = None
        number = phonenumbers.parse(digits, "CN")
        if phonenumbers.is_valid_number(number) and (
            phonenumbers.number_type(number) in contacts._PHONE_TYPES
        ):
            full = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert contacts._parse_phone(digits, "CN") == full, digits


# --------------------------------------------------------------------------- payment channels


def test_a_pasted_alipay_link_is_an_alipay_identifier_beside_its_url() -> None:
    found = kinds_of("让我扫这个 https://qr.alipay.com/FKX19226EHKHZJELQX9BM0E 付款")
    assert ("alipay", "fkx19226ehkhzjelqx9bm0e") in found
    assert ("url", "https://qr.alipay.com/FKX19226EHKHZJELQX9BM0E") in found


def test_a_wechat_pay_receive_code_keeps_its_case() -> None:
    assert kinds_of("wxp://f2f0Pz3YfGHq8kLmN1xR5tUvW9aB") == [
        ("wechat_pay", "wxp://f2f0Pz3YfGHq8kLmN1xR5tUvW9aB")]


def test_an_eip681_token_transfer_names_the_payee_not_the_token_contract() -> None:
    usdt, payee = ("0xdAC17F958D2ee523a2206206994597C13D831ec7",
                   "0x8ba1f109551bD432803012645Ac136ddd64DBA72")
    found = kinds_of(f"ethereum:{usdt}@1/transfer?address={payee}&uint256=1e6")
    assert found == [("evm", payee.lower())]
    # The same contract named on its own is an address like any other.
    assert kinds_of(f"USDT 合约 {usdt}") == [("evm", usdt.lower())]


def test_a_bip21_request_names_its_address() -> None:
    assert kinds_of("bitcoin:BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ?amount=0.1") == [
        ("btc", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")]


@pytest.mark.parametrize("text", [
    "订单号 6222021234567890128",  # Luhn-valid, UnionPay prefix, but an order number
    "银行卡 6222021234567890127",  # near the word, but fails Luhn
    "卡号 1234567812345670",  # Luhn-valid, no issuer starts with 1
    "银行卡 6222 **** **** 0128",  # masked
])
def test_card_look_alikes_are_not_cards(text: str) -> None:
    assert [k for k, _ in kinds_of(text) if k == "bank_card"] == []


def test_a_card_number_typed_in_groups_is_found_as_digits() -> None:
    assert kinds_of("收款银行卡：6222 0212 3456 7890 128（工行）") == [
        ("bank_card", "6222021234567890128")]


# --------------------------------------------------------------------------- hostile sizes


def test_claims_answer_like_a_plain_list_whatever_order_they_come_in() -> None:
    """Regression (hardening 1): TextScan.free checked every hit against every claim."""
    import random

    from triage.textscan import TextScan

    rng = random.Random(18)
    for _ in range(200):
        scan, claimed = TextScan.of("x" * 500), []
        for _ in range(rng.randint(1, 40)):
            start = rng.randrange(480)
            end = start + rng.randint(1, 20)
            if rng.random() < 0.5:
                scan.claim(start, end)
                claimed.append((start, end))
            for q_start in range(0, 500, 7):
                q_end = q_start + rng.randint(1, 9)
                expected = all(not (q_end > s and q_start < e) for s, e in claimed)
                assert scan.free(q_start, q_end) == expected


def test_one_long_text_naming_60000_domains_is_read_up_to_the_cap() -> None:
    """Regression (hardening 1): an 829 KB text froze a worker for 33.5 s."""
    from triage.extract import MAX_TEXT

    text = " ".join(f"site{n}.example-ex.com" for n in range(60_000))
    found = extract(text)
    domains = [i for i in found if i.kind == "domain"]
    assert len(domains) == 1  # every one is a subdomain of example-ex.com
    assert len(text) > MAX_TEXT * 30
    many = " ".join(f"s{n}-ex.com" for n in range(60_000))
    values = [i.value for i in extract(many)]
    shown = many[:MAX_TEXT].split(" ")
    assert values[:-1] == shown[:-1] and "s59999-ex.com" not in values  # cut at the cap
