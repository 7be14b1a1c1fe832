"""The precomputed study behind 8.1.1's mini scaling law: the script runs and resumes, refuses a
file made under other settings, and the shipped results belong to the current data and models."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("scaling_study", ROOT / "studies" / "scaling.py")
scaling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scaling)


def test_study_runs_resumes_and_refuses_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "study.json"
    args = [str(out), "--widths", "16", "--steps", "4", "--curve-every", "2"]
    scaling.main(args)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert len(runs) == 1
    r = runs[0]
    assert (r["width"], r["subset"], r["steps"], r["tokens"]) == (16, 0, 4, 4 * 16 * 64)
    assert r["flops"] == 6 * r["params"] * r["tokens"]
    assert r["curve"]["steps"] == [2, 4] and 0 < r["val_bpc"] < 12
    capsys.readouterr()
    scaling.main(args)                                    # every run is done: nothing is redone
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8"))["runs"] == runs
    scaling.main([str(out), "--widths", "16", "--steps", "2", "--seeds", "1", "--curve-every", "2"])
    runs2 = json.loads(out.read_text(encoding="utf-8"))["runs"]   # another budget and seed: added
    assert [(r["steps"], r["seed"]) for r in runs2] == [(4, 0), (2, 1)]
    with pytest.raises(SystemExit, match="other curve_every; move it away"):
        scaling.main([str(out), "--widths", "16", "--steps", "4", "--curve-every", "1"])
    out.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a study result"):
        scaling.main(args)


def test_shipped_results_match_the_data_and_the_models():
    from llmbook_lib.data import corpora
    from llmbook_lib.models.transformer import GPT

    results = json.loads(scaling.DEFAULT_OUT.read_text(encoding="utf-8"))
    meta = results["meta"]
    assert meta["data_sha256"] == corpora.text_sha256(corpora.peoples_daily_text()), \
        "People's Daily changed: rerun studies/scaling.py"
    assert (meta["main_steps"], meta["batch"], meta["max_len"]) == \
        (scaling.MAIN_STEPS, scaling.BATCH, scaling.MAX_LEN)
    main = {(r["width"], r["seed"]) for r in results["runs"] if (r["subset"], r["steps"]) == (0, 1500)}
    assert main == {(w, s) for w in scaling.WIDTHS for s in (0, 1, 2)}     # three seeds per size
    short = {r["width"] for r in results["runs"] if (r["subset"], r["steps"], r["seed"]) == (0, 300, 0)}
    assert short == set(scaling.WIDTHS)            # a second token budget (8.1.1 reruns one live)
    keys = [(r["width"], r["subset"], r["steps"], r["seed"]) for r in results["runs"]]
    assert len(keys) == len(set(keys))
    for r in results["runs"]:
        with torch.device("meta"):
            model = GPT(scaling.model_config(r["width"], meta["vocab_size"]))
        assert r["params"] == scaling.non_embedding_params(model), "the GPT changed: rerun the study"
        assert r["flops"] == 6 * r["params"] * r["tokens"]
        assert r["curve"]["steps"][-1] == r["steps"]
        assert 0 < r["val_bpc"] < 12
