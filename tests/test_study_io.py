"""runtime.study: the shared result file of the precomputed studies (atomic, resumable, checked)."""
import json

import pytest

from llmbook_lib.runtime.study import load_study, write_atomic


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
