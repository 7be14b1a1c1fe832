"""``python -m llmbook_lib.finetune``: end to end on a tiny CSV with a tiny encoder, and every input
error as one line with exit code 2."""

import json
import subprocess
import sys

import pytest

from llmbook_lib.finetune import cli
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer

POS = ["很好", "不错", "喜欢", "推荐", "电影很好", "书不错", "喜欢酒店", "服务很好", "很喜欢", "值得推荐"]
NEG = ["太差", "差劲", "失望", "难看", "电影太差", "书难看", "失望的酒店", "服务差劲", "很失望", "不推荐"]


@pytest.fixture
def tiny_base(monkeypatch):
    """--base loads a tiny random encoder instead of a shipped one."""
    vocab = BertVocab(CharTokenizer.from_text("".join(POS + NEG), unk="<unk>"))

    def load(name):
        if name != "tiny":
            raise cli.InputError(f"--base {name}: unknown")
        return BertLike(BertConfig(vocab.vocab_size, max_len=16, d_model=16, n_head=2, n_layer=1)), vocab

    monkeypatch.setattr(cli, "load_base", load)


def write_csv(path, rows, header="text,label"):
    path.write_text("\n".join([header, *(f"{t},{y}" for t, y in rows)]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def train_csv(tmp_path):
    rows = [(t + "!" * k, "pos") for k in range(2) for t in POS] + [(t + "!" * k, "neg") for k in range(2) for t in NEG]
    return write_csv(tmp_path / "train.csv", rows)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_then_predict_end_to_end(tmp_path, capsys, tiny_base, train_csv):
    model = tmp_path / "out" / "model.safetensors"
    code, out, err = run(capsys, "classify", "--train", str(train_csv), "--base", "tiny", "--steps", "20",
                         "--lr", "3e-3", "--out", str(model))
    assert code == 0, err
    assert "holding out" in err and "20/20" in err                 # hold-out notice, tqdm bar
    report = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["labels"] == ["neg", "pos"] and report["steps"] == 20 and report["mode"] == "full"
    assert "hash" in report["dev"] and 0.0 <= report["dev_metrics"]["accuracy"] <= 1.0
    n_dev = report["dev_metrics"]["n"]
    assert sum(report["label_counts"]["dev"].values()) == n_dev and sum(report["label_counts"]["train"].values()) == 40 - n_dev
    assert f"model: {model}" in out and report["seconds"] >= 0
    assert not list(model.parent.glob(".*tmp*"))                  # written atomically: no leftovers

    texts = tmp_path / "texts.txt"
    texts.write_text("很好\n\n太差劲\n", encoding="utf-8")
    code, out, err = run(capsys, "predict", "--model", str(model), "--input", str(texts))
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [x["line"] for x in lines] == [1, 3] and [x["text"] for x in lines] == ["很好", "太差劲"]
    assert all(x["label"] in ("neg", "pos") and abs(sum(x["probs"].values()) - 1) < 1e-3 for x in lines)

    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"review": "喜欢"}\n{"review": "难看"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--model", str(model), "--input", str(jsonl), "--text-col", "review")
    assert code == 0 and len(out.splitlines()) == 2


def test_lora_with_a_dev_file_and_jsonl(tmp_path, capsys, tiny_base):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps({"t": t, "y": y}, ensure_ascii=False)
                               for t, y in [(t, 1) for t in POS] + [(t, 0) for t in NEG]), encoding="utf-8")
    dev = write_csv(tmp_path / "dev.csv", [("很不错", 1), ("太难看", 0)], header="t,y")
    code, out, err = run(capsys, "classify", "--train", str(train), "--dev", str(dev), "--text-col", "t",
                         "--label-col", "y", "--base", "tiny", "--lora", "2", "--steps", "3", "--quiet",
                         "--out", str(tmp_path / "m.safetensors"))
    assert code == 0, err
    report = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert report["mode"] == "lora" and report["lora_r"] == 2 and report["dev"] == str(dev)
    assert report["labels"] == ["0", "1"] and report["dev_metrics"]["n"] == 2
    assert report["trainable_params"] < report["total_params"] / 10


@pytest.mark.parametrize("case, content, message", [
    ("missing column", "review,label\n很好,pos\n", "has no column 'text'; its columns are: 'review', 'label'"),
    ("one class", "text,label\n很好,pos\n不错,pos\n", "has only one class ('pos')"),
    ("empty file", "", "is empty"),
    ("header only", "text,label\n", "has a header (text, label) but no rows"),
])
def test_input_errors_name_the_problem(tmp_path, capsys, tiny_base, case, content, message):
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "classify", "--train", str(path), "--base", "tiny")
    assert code == 2 and message in err and err.startswith("error: ") and len(err.splitlines()) == 1


def test_non_utf8_line_is_named_with_a_gbk_hint(tmp_path, capsys, tiny_base):
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,label\n很好,pos\n".encode() + "太差,neg\n".encode("gbk"))
    code, _, err = run(capsys, "classify", "--train", str(path), "--base", "tiny")
    assert code == 2 and "line 3 is not valid UTF-8" in err and "GBK" in err


def test_other_errors(tmp_path, capsys, tiny_base, train_csv):
    code, _, err = run(capsys, "classify", "--train", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "很好", "label": "pos"}\n{"text": 很好}\n', encoding="utf-8")
    code, _, err = run(capsys, "classify", "--train", str(bad))
    assert code == 2 and "line 2 is not valid JSON" in err
    code, _, err = run(capsys, "classify", "--train", str(tmp_path / "data.xlsx"))
    assert code == 2 and "--format" in err
    code, _, err = run(capsys, "classify", "--train", str(train_csv), "--mode", "probe", "--lora", "4")
    assert code == 2 and "contradicts --mode probe" in err
    code, _, err = run(capsys, "classify", "--train", str(train_csv), "--base", "nonesuch", "--steps", "1")
    assert code == 2 and "--base nonesuch" in err
    code, _, err = run(capsys, "predict", "--model", str(tmp_path / "none.safetensors"), "--input", str(train_csv))
    assert code == 2 and "no such model file" in err
    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    code, _, err = run(capsys, "predict", "--model", str(tmp_path / "junk.safetensors"), "--input", str(train_csv))
    assert code == 2 and "corrupted" in err


def test_predict_names_an_empty_text_row(tmp_path, capsys, tiny_base, train_csv):
    model = tmp_path / "m.safetensors"
    assert run(capsys, "classify", "--train", str(train_csv), "--base", "tiny", "--steps", "1", "--quiet",
               "--out", str(model))[0] == 0
    texts = write_csv(tmp_path / "texts.csv", [("很好", ""), ("  ", "")])
    code, _, err = run(capsys, "predict", "--model", str(model), "--input", str(texts))
    assert code == 2 and "line 3: the text in column 'text' is empty" in err


def test_the_module_exits_2_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "llmbook_lib.finetune", "classify", "--train",
                           str(tmp_path / "missing.csv")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: no such file: {tmp_path / 'missing.csv'}"


def test_warns_when_the_vocabulary_does_not_cover_the_texts(tmp_path, capsys, tiny_base):
    rows = [(f"great film {i}", "pos") for i in range(10)] + [(f"awful film {i}", "neg") for i in range(10)]
    train = write_csv(tmp_path / "english.csv", rows)
    code, _, err = run(capsys, "classify", "--train", str(train), "--base", "tiny", "--steps", "1", "--quiet",
                       "--out", str(tmp_path / "m.safetensors"))
    assert code == 0 and "warning: 100% of the training characters are not in the vocabulary" in err
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["unknown_char_rate"] == 1.0


def test_ner_then_predict_and_its_errors(tmp_path, capsys, tiny_base):
    names = ["很好", "不错", "喜欢"]
    rows = [{"text": f"{n}去了酒店", "entities": [[0, 2, "PER"], [4, 6, "LOC"]]} for n in names] * 4
    rows += [{"text": f"服务{n}", "entities": []} for n in names] * 4
    train = tmp_path / "ner.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    model = tmp_path / "ner.safetensors"
    code, out, err = run(capsys, "ner", "--train", str(train), "--dev", str(train), "--base", "tiny",
                         "--steps", "3", "--quiet", "--out", str(model))
    assert code == 0, err
    report = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["types"] == ["LOC", "PER"] and "micro" in report["dev_metrics"] and "entity F1" in out
    texts = tmp_path / "t.txt"
    texts.write_text("很好去了酒店\n", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--model", str(model), "--input", str(texts))
    record = json.loads(out)
    assert code == 0 and record["line"] == 1 and isinstance(record["entities"], list)
    assert all(record["text"][s:e] == word for s, e, _, word in record["entities"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "很好", "entities": [[0, 5, "PER"]]}\n', encoding="utf-8")
    code, _, err = run(capsys, "ner", "--train", str(bad), "--base", "tiny")
    assert code == 2 and "line 1" in err and "outside a text of 2 characters" in err
    bad.write_text('{"text": "很好", "entities": [[0, 1]]}\n', encoding="utf-8")
    code, _, err = run(capsys, "ner", "--train", str(bad), "--base", "tiny")
    assert code == 2 and "must be a list of [start, end" in err
