"""runtime.study: the shared result file of the precomputed studies (atomic, resumable, checked)."""
import json

import pytest

from llmbook_lib.runtime.study import load_study, open_study, write_atomic


def test_round_trip_missing_and_bad_files(tmp_path):
    path = tmp_path / "study.json"
    assert load_study(path, "arms") == {"meta": {}, "arms": []}        # nothing yet: start afresh
    results = {"meta": {"steps": 2}, "arms": [{"arm": "hsk", "chrf": 30.5, "note": "中文"}]}
    write_atomic(path, results)
    assert load_study(path, "arms") == results
    assert not (tmp_path / "study.json.tmp").exists()
    assert "中文" in path.read_text(encoding="utf-8")                   # readable, not \\u-escaped
    with pytest.raises(ValueError, match="no 'runs' list"):
        load_study(path, "runs")
    path.write_text("{half a file", encoding="utf-8")
    with pytest.raises(ValueError, match="not a study result.*move it away"):
        load_study(path)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not a study result"):
        load_study(path)
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(ValueError, match="no 'runs' list"):
        load_study(path)


def test_open_study_resumes_under_the_same_settings_and_refuses_others(tmp_path):
    path = tmp_path / "study.json"
    meta = {"data_sha256": "abc", "steps": 10, "torch": "2.x"}
    fresh = open_study(path, "runs", meta, ("data_sha256", "steps"))
    assert fresh == {"meta": meta, "runs": []}
    fresh["runs"].append({"seed": 0})
    fresh["meta"]["note"] = "added by hand"
    write_atomic(path, fresh)
    # Same settings, another torch: resumed, the new meta wins, the hand-added note is kept.
    again = open_study(path, "runs", {**meta, "torch": "2.y"}, ("data_sha256", "steps"))
    assert again["runs"] == [{"seed": 0}]
    assert again["meta"] == {**meta, "torch": "2.y", "note": "added by hand"}
    with pytest.raises(ValueError, match="other steps; move it away"):
        open_study(path, "runs", {**meta, "steps": 20}, ("data_sha256", "steps"))
    with pytest.raises(ValueError, match="other data_sha256, steps"):
        open_study(path, "runs", {**meta, "steps": 20, "data_sha256": "x"}, ("data_sha256", "steps"))
    with pytest.raises(ValueError, match="meta lacks"):
        open_study(path, "runs", meta, ("seed_count",))
