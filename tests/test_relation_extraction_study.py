"""The relation extraction study (studies/relation_extraction.py): it runs, resumes and refuses a
foreign file, and its shipped results match the shipped encoder and the world's RE set."""

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("relation_study", ROOT / "studies" / "relation_extraction.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_study_runs_resumes_and_refuses_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "study.json"
    args = [str(out), "--seeds", "0", "--max-steps", "1"]
    study.main(args)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert sorted((r["split"], r["model"]) for r in runs) == sorted(
        (s, m) for s in study.SPLITS for m in ("baseline", "encoder"))
    assert all(0 <= r["micro_f1"] <= 1 for r in runs)
    capsys.readouterr()
    study.main(args)                                        # every run is done: nothing is redone
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit, match="other max_steps; move it away"):
        study.main([str(out), "--seeds", "0", "--max-steps", "2"])
    out.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a study result"):
        study.main(args)


def test_shipped_study_matches_the_encoder_and_the_world():
    from llmbook_lib.data.world import make_world
    from llmbook_lib.hub import manifest_entry

    results = study.load_results(study.DEFAULT_OUT)
    meta = results["meta"]
    assert meta["base_sha256"] == manifest_entry("bert-zh-mlm")["sha256"], \
        "bert-zh-mlm changed: rerun studies/relation_extraction.py"
    assert meta["data_sha256"] == study.data_sha256(make_world()), \
        "the world's RE set changed: rerun studies/relation_extraction.py"
    assert meta["max_steps"] is None and meta["re_steps"] == study.RE_STEPS
    grid = {(r["split"], r["model"], r["seed"]) for r in results["runs"]}
    assert grid == ({(s, "encoder", k) for s in study.SPLITS for k in (0, 1, 2)}
                    | {(s, "baseline", 0) for s in study.SPLITS})
    assert len(results["runs"]) == len(grid)
    json.dumps(results)
