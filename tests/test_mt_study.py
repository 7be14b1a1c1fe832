"""The precomputed study behind 6.1.1's extra-data comparison: the script runs and resumes,
refuses a foreign file, and the shipped results belong to the current HSK split."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mt_extra_data_study", ROOT / "studies" / "mt_extra_data.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_dictionary_pairs_are_frequent_glossed_words():
    pairs = study.dictionary_pairs(50)
    assert len(pairs) == 50 and len({w for w, _ in pairs}) == 50
    assert all(w and not w.isascii() and 1 <= len(g.split()) <= 3 for w, g in pairs)
    assert ("是", "be") in pairs            # among the most frequent words of jieba's dictionary


def test_study_runs_resumes_and_refuses_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "study.json"
    args = [str(out), "--steps", "2", "--arms", "hsk"]
    study.main(args)
    arms = json.loads(out.read_text(encoding="utf-8"))["arms"]
    assert [a["arm"] for a in arms] == ["hsk"] and arms[0]["steps"] == 2 and arms[0]["extra"] == 0
    assert 0 <= arms[0]["test_chrf"] <= 100 and set(arms[0]["test_chrf_by_level"]) == set("123456")
    capsys.readouterr()
    study.main(args)                                     # done already: nothing is redone
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit, match="steps"):
        study.main([str(out), "--steps", "3", "--arms", "hsk"])
    out.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a study result"):
        study.main(args)


def test_shipped_results_match_the_current_split():
    from llmbook_lib.data import hsk

    results = study.load_results(study.DEFAULT_OUT)
    assert results["meta"]["data_sha256"] == hashlib.sha256(hsk.corpus_text().encode()).hexdigest(), \
        "the HSK split changed: rerun studies/mt_extra_data.py"
    assert [a["arm"] for a in results["arms"]] == list(study.ARMS)
    assert all(a["steps"] == results["meta"]["steps"] == 2000 for a in results["arms"])
    base = next(a for a in results["arms"] if a["arm"] == "hsk")
    assert all(a["pairs"] == base["pairs"] + a["extra"] for a in results["arms"])
