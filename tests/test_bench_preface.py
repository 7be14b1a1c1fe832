"""bench/run.py orders the preface's timing table as the book does (its _toc.yml)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_run():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_toc_position_follows_the_toc_not_its_header_comment():
    run = load_run()
    quick = run.toc_position("notebooks/00_quickstart/quickstart.ipynb")
    history = run.toc_position("notebooks/01_background/1.1_history_of_ai.ipynb")
    compression = run.toc_position("notebooks/02_compression/2.1_compression.ipynb")
    assert quick < history < compression          # the header's example line names 2.1
    assert run.toc_position("notebooks/nowhere.ipynb") > compression
