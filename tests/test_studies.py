"""The precomputed study behind 3.3.1's full fine-tuning learning curves: the script runs and
resumes, and the shipped results belong to the shipped encoder and the current data split."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("ft_curves_study", ROOT / "studies" / "ft_curves.py")
ft_curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ft_curves)


def test_steps_policy():
    assert [ft_curves.steps_for(n) for n in (8, 32, 512, 2048, 13809)] == [100, 100, 128, 512, 1300]


def test_study_runs_resumes_and_refuses_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "study.json"
    args = [str(out), "--sizes", "8", "--seeds", "0", "--max-steps", "2"]
    ft_curves.main(args)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert sorted(r["init"] for r in runs) == ["pretrained", "random"]
    assert all(r["n"] == 8 and r["steps"] == 2 and 0 <= r["accuracy"] <= 1 for r in runs)
    capsys.readouterr()
    ft_curves.main(args)                                  # every run is done: nothing is redone
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8"))["runs"] == runs
    with pytest.raises(SystemExit, match="other max_steps; move it away"):       # same file, another step cap
        ft_curves.main([str(out), "--sizes", "8", "--seeds", "0", "--max-steps", "3"])
    out.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a study result"):
        ft_curves.main(args)


def test_shipped_results_match_the_shipped_encoder_and_data():
    from llmbook_lib.data.sentiment import corpus_text
    from llmbook_lib.hub import manifest_entry

    results = ft_curves.load_results(ft_curves.DEFAULT_OUT)
    meta = results["meta"]
    assert meta["base_sha256"] == manifest_entry("bert-zh-mlm")["sha256"], \
        "bert-zh-mlm changed: rerun studies/ft_curves.py"
    assert meta["data_sha256"] == hashlib.sha256(corpus_text().encode()).hexdigest(), \
        "the sentiment split changed: rerun studies/ft_curves.py"
    assert meta["max_steps"] is None
    grid = {(r["init"], r["n"], r["seed"]) for r in results["runs"]}
    assert grid == {(i, n, s) for i in ft_curves.INITS for n in (32, 128, 512, 2048) for s in (0, 1, 2)}
    assert len(results["runs"]) == len(grid)
    curves = ft_curves.curves(results)
    assert all(len(accs) == 3 for by_n in curves.values() for accs in by_n.values())
