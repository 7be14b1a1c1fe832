"""The precomputed link-prediction table behind 6.2.3: the script runs and resumes, refuses a
foreign file, and the shipped results belong to the current data files and recipe."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("kge_study", ROOT / "studies" / "kge.py")
kge_study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kge_study)


def test_study_runs_resumes_and_refuses_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "study.json"
    args = [str(out), "--datasets", "nations", "--models", "distmult", "--seeds", "0",
            "--epochs", "1"]
    kge_study.main(args)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert [(r["dataset"], r["model"], r["seed"]) for r in runs] == [("nations", "distmult", 0)]
    assert 0 < runs[0]["test"]["MRR"] <= 1 and set(runs[0]["valid"]) == {
        "MRR", "Hits@1", "Hits@3", "Hits@10"}
    capsys.readouterr()
    kge_study.main(args)                                  # every run is done: nothing is redone
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8"))["runs"] == runs
    with pytest.raises(SystemExit, match="other recipe; move it away"):
        kge_study.main(args[:-1] + ["2"])
    out.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a study result"):
        kge_study.main(args)


def test_shipped_results_match_the_data_and_recipe():
    from llmbook_lib.data.kg import SHA256

    results = kge_study.load_results(kge_study.DEFAULT_OUT)
    meta = results["meta"]
    assert meta["recipe"] == kge_study.RECIPE, "the recipe changed: rerun studies/kge.py"
    assert meta["data_sha256"] == {f"{n}/{s}": h for (n, s), h in sorted(SHA256.items())}, \
        "the data files changed: rerun studies/kge.py"
    grid = {(r["dataset"], r["model"], r["seed"]) for r in results["runs"]}
    assert grid == {(d, m, s) for d in kge_study.DATASETS for m in kge_study.MODELS
                    for s in (0, 1, 2)}
    assert len(results["runs"]) == len(grid)
    table = kge_study.table(results)
    assert all(len(cell["MRR"]) == 3 for cell in table.values())
    # the budget: at most 60 s of one CPU thread per model
    assert max(r["cpu_s"] for r in results["runs"]) <= 60
