"""Web-text filters (llmbook_lib.data.webfilter): each rule fires on what it targets and
passes ordinary prose."""

import random

import pytest

from llmbook_lib.data import webfilter as wf

PROSE = ("The committee met on Tuesday to discuss the new budget. Members said that the plan "
         "would have to be changed before it could be approved. The chairman told reporters "
         "that he was confident of an agreement with the other parties by the end of the month. "
         "Several speakers warned that the cuts to schools and hospitals were too deep, and "
         "that the government should look again at the figures. A vote is expected next week.\n")
PROSE_ZH = ("委员会周二开会讨论新的预算方案。委员们表示，这个计划在获得批准之前还需要修改。"
            "主席对记者说，他有信心在月底之前与其他各方达成一致。几位发言人提醒说，"
            "对学校和医院的削减幅度太大了，政府应当重新审视这些数字。下周将进行表决。\n")


def test_scripts():
    assert wf.script_of("a") == "Latin" and wf.script_of("中") == "Han"
    assert wf.script_of("ж") == "Cyrillic" and wf.script_of("カ") == "Kana"
    assert wf.script_of("1") is None and wf.script_of(" ") is None
    assert wf.script_shares("ab中") == pytest.approx({"Latin": 2 / 3, "Han": 1 / 3})


def test_naive_bayes_langid_separates_languages_sharing_a_script():
    rng = random.Random(0)
    en = "the of and to in is that for it with as was on be at by this had".split()
    de = "der die und in den von zu das mit sich des auf für ist im dem nicht".split()

    def salad(words):
        return " ".join(rng.choice(words) for _ in range(40))

    lid = wf.NaiveBayesLangID().fit([salad(en) for _ in range(20)] + [salad(de) for _ in range(20)],
                                    ["en"] * 20 + ["de"] * 20)
    assert lid.labels == ["de", "en"]
    assert all(lid.predict(salad(en))[0] == "en" for _ in range(10))
    assert all(lid.predict(salad(de))[0] == "de" for _ in range(10))
    assert sum(lid.predict_proba("und die").values()) == pytest.approx(1.0)
    assert lid.predict("und die")[0] == "de"


def test_c4_keeps_sentences_and_drops_menu_lines():
    page = "Home | News | Sport | Contact\n" + PROSE + "Click here to enable javascript now.\n"
    kept, reasons = wf.c4_clean(page)
    assert reasons == [] and "Home" not in kept and "javascript" not in kept and "budget." in kept
    assert "c4_few_sentences" in wf.c4_clean("Home | News\nAbout us")[1]
    assert "c4_curly_bracket" in wf.c4_clean(PROSE + "{x}")[1]
    assert "c4_lorem_ipsum" in wf.c4_clean(PROSE + "Lorem ipsum dolor sit amet.")[1]
    kept_zh, reasons_zh = wf.c4_clean("首页 | 新闻\n" + PROSE_ZH, "zh")
    assert reasons_zh == [] and "首页" not in kept_zh


def test_gopher_quality_passes_prose_and_names_failures():
    assert wf.gopher_quality(PROSE * 2) == []
    assert wf.gopher_quality(PROSE_ZH, "zh") == []
    assert "gopher_length" in wf.gopher_quality("Too short to keep.")
    assert "gopher_stop_words" in wf.gopher_quality(" ".join(["cheap watches online"] * 30))
    assert "gopher_symbols" in wf.gopher_quality(PROSE + " #tag" * 20)
    assert "gopher_word_length" in wf.gopher_quality(" ".join(["a b c"] * 40) + " the and")
    assert "gopher_alpha" in wf.gopher_quality(PROSE + " 1 2 3 4 5 6" * 30)
    bullets = "\n".join(f"- item {i} of the list and" for i in range(60))
    assert "gopher_bullets" in wf.gopher_quality(bullets)


def test_gopher_repetition():
    assert wf.gopher_repetition(PROSE) == []
    assert wf.gopher_repetition(PROSE_ZH, "zh") == []
    spam = " ".join(["buy cheap watches now"] * 40)
    found = wf.gopher_repetition(spam)
    assert "rep_top_2gram" in found and "rep_dup_5gram" in found
    repeated_lines = "\n".join(["Subscribe to our newsletter today."] * 5 + PROSE.split(". "))
    assert "rep_dup_lines" in wf.gopher_repetition(repeated_lines)


def test_fineweb_lines():
    assert wf.fineweb_lines(PROSE) == []
    menu = "\n".join(["Home", "News", "Sport", "Weather", "Contact"])
    assert set(wf.fineweb_lines(menu)) == {"fineweb_punct_lines", "fineweb_short_lines"}


def test_cn_id_check_digit_known_example():
    # the check digit of the standard's worked example 11010519491231002X
    assert wf.cn_id_check_digit("11010519491231002") == "X"


def test_scrub_pii():
    text = ("Mail jane.doe@example.com or call (555) 010-4477. 电话 138-0013-8000，"
            "身份证 11010519491231002X；号码 110105194912310021 的校验位不对；1998 年。")
    scrubbed, spans = wf.scrub_pii(text)
    assert [k for _, _, k in spans] == ["EMAIL", "PHONE_US", "PHONE_CN", "ID"]
    assert scrubbed.startswith("Mail <EMAIL> or call <PHONE>. 电话 <PHONE>，身份证 <ID>；")
    assert "110105194912310021" in scrubbed and "1998" in scrubbed
    assert wf.scrub_pii("no personal data here") == ("no personal data here", [])
