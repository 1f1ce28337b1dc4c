"""'Possibly the same platform' suggestions between names and domains."""

from __future__ import annotations

import random

import idna

from triage.similar import THRESHOLD, Suggestion, _candidates, read, similar


def pairs(suggestions: list[Suggestion]) -> dict[frozenset[str], float]:
    return {frozenset((s.a[1], s.b[1])): s.score for s in suggestions}


def test_huobi_in_chinese_in_latin_and_as_a_domain_are_suggested_as_possibly_the_same() -> None:
    found = pairs(similar([("name", "火币"), ("name", "huobi"), ("domain", "huobi-vip.com")]))
    assert found == {
        frozenset(("火币", "huobi")): 100.0,  # same pinyin
        frozenset(("火币", "huobi-vip.com")): 90.0,  # huobi inside "huobi vip"
        frozenset(("huobi", "huobi-vip.com")): 90.0,
    }


def test_binance_in_chinese_and_okx_are_not_suggested() -> None:
    assert similar([("name", "币安"), ("name", "okx"), ("domain", "okx.com"),
                    ("name", "欧易")]) == [
        Suggestion(("domain", "okx.com"), ("name", "okx"), 100.0, "same key (okx)"),
    ]


def test_identical_keys_score_100_whatever_the_spelling() -> None:
    found = similar([("name", "火幣網"), ("name", "火币"), ("domain", "huobi.cc"),
                     ("domain", idna.encode("火币.com").decode())])
    assert len(found) == 6 and {s.score for s in found} == {100.0}


def test_typosquats_and_brands_glued_to_more_are_suggested() -> None:
    found = pairs(similar([
        ("domain", "binance.com"), ("domain", "blnance.com"),  # one letter changed
        ("name", "okx"), ("domain", "okex.com"),  # one letter added
        ("domain", "bybit.com"), ("domain", "bybt.cc"),  # one letter dropped
        ("name", "kucoin"), ("domain", "kucoinvip.top"), ("domain", "mykucoin.cc"),  # glued
        ("domain", "vip-gate.cc"), ("domain", "gate-vip.io"),  # same words, other order
    ]))
    assert found[frozenset(("binance.com", "blnance.com"))] >= THRESHOLD
    assert found[frozenset(("okx", "okex.com"))] >= THRESHOLD
    assert found[frozenset(("bybit.com", "bybt.cc"))] >= THRESHOLD
    assert found[frozenset(("kucoin", "kucoinvip.top"))] == 90.0
    assert found[frozenset(("kucoin", "mykucoin.cc"))] == 90.0
    assert frozenset(("kucoinvip.top", "mykucoin.cc")) not in found  # neither is the brand
    assert found[frozenset(("vip-gate.cc", "gate-vip.io"))] == 95.0


def test_shared_generic_words_and_short_fragments_are_not_suggested() -> None:
    found = similar([
        ("domain", "club-bi-560.info"), ("domain", "club-xinghong-107.vip"),  # WRatio: 85.5
        ("name", "bit"), ("domain", "bitkeep.com"),  # 3 letters inside a word: chance
        ("domain", "huobi.com"), ("domain", "huoxing.com"),
        ("name", "okx"), ("name", "okb"),
        ("name", "coin"), ("domain", "coinbitgloballtdasia.com"),  # a fragment of the label
        ("name", "ab"), ("name", "ab交易所"),  # too short to compare
    ])
    assert found == []


def test_only_names_and_domains_are_compared_and_never_merged() -> None:
    entities = [("name", "huobi"), ("wechat_id", "huobi"), ("telegram", "huobi"),
                ("name", "huobi"), ("domain", "huobi.com")]
    found = similar(entities)
    assert found == [Suggestion(("domain", "huobi.com"), ("name", "huobi"), 100.0,
                                "same key (huobi)")]
    assert len(entities) == 5  # the input is not touched


def test_the_order_is_deterministic_best_first() -> None:
    entities = [("domain", f"huobi-{w}.com") for w in ("vip", "pro", "cn", "hk")] + [
        ("name", "火币"), ("domain", "blnance.com"), ("name", "binance")]
    first = similar(entities)
    shuffled = list(entities)
    random.Random(3).shuffle(shuffled)
    assert similar(shuffled) == first
    scores = [s.score for s in first]
    assert scores == sorted(scores, reverse=True)
    assert all(s.a < s.b for s in first)


def test_twenty_thousand_domains_are_not_compared_pair_by_pair() -> None:
    """Blocking keeps 20,000 domains to a sliver of the 200 million pairs (timed in bench/)."""
    rng = random.Random(11)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["coin", "vip", "pro", "bit", "ex", "global", "trade", "usdt", "swap", "asia"]
    entities = {("domain", f"{''.join(rng.choices(letters, k=rng.randint(4, 8)))}-"
                 f"{rng.choice(words)}.{rng.choice(('com', 'cc', 'top', 'vip'))}")
                for _ in range(20_000)}
    entities |= {("name", "火币"), ("domain", "huobi-vip.com")}
    readings = [r for e in sorted(entities) if (r := read(e)) is not None]
    all_pairs = len(readings) * (len(readings) - 1) // 2
    assert len(_candidates(readings)) < all_pairs // 1000
    found = similar(sorted(entities))
    assert Suggestion(("domain", "huobi-vip.com"), ("name", "火币"), 90.0,
                      "huobi inside huobi vip") in found
