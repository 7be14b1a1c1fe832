"""Link prediction on UMLS, Kinships and Nations: TransE, DistMult, ComplEx, three seeds each.

Section 6.2.3 shows this table; the 27 runs take a few minutes on one CPU thread, more than a
notebook's budget, so the results ship in ``llmbook_lib/weights/kge.json`` and the notebook
trains only UMLS live. One recipe for every cell, fixed before the runs and not tuned per
model or dataset (``RECIPE``): 1-N softmax cross-entropy over reciprocal queries, AdamW (no
weight decay) lr 0.01 with cosine decay, batch 256, 20 epochs, 200 real numbers per embedding
(ComplEx: 100 complex), N3 weight 0.01 for DistMult and ComplEx. Filtered MRR and Hits@1/3/10
over head and tail prediction, on valid and test (``llmbook_lib.tasks.kge.evaluate_kge``);
``cpu_s`` is the process CPU time of training (one thread).

    OMP_NUM_THREADS=1 python studies/kge.py [OUT.json] [--datasets ...] [--models ...]
        [--seeds ...] [--epochs N]

Each finished run is appended to the JSON at once (written atomically), and runs already in the
file are skipped, so an interrupted study resumes where it stopped. A file made from other data
files or another recipe is refused.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from llmbook_lib.runtime.study import load_study, open_study, write_atomic

DATASETS = ("umls", "kinships", "nations")
MODELS = ("transe", "distmult", "complex")
RECIPE = {"dim": 200, "epochs": 20, "batch_size": 256, "lr": 0.01, "reg": 0.01}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "llmbook_lib" / "weights" / "kge.json"


def load_results(path: Path) -> dict:
    """{"meta": {...}, "runs": [{"dataset", "model", "seed", "valid": {...}, "test": {...},
    "cpu_s"}, ...]}; an empty study when the file does not exist yet."""
    return load_study(path, "runs")


def table(results: dict, split: str = "test") -> dict:
    """{(dataset, model): {metric: [value per seed, in seed order]}, "cpu_s": [...]}."""
    out: dict = {}
    for run in sorted(results["runs"], key=lambda r: r["seed"]):
        cell = out.setdefault((run["dataset"], run["model"]), {})
        for k, v in {**run[split], "cpu_s": run["cpu_s"]}.items():
            cell.setdefault(k, []).append(v)
    return out


def main(argv=None) -> None:
    import torch

    from llmbook_lib.data.kg import PYKEEN_VERSION, SHA256, load_kg
    from llmbook_lib.tasks.kge import KGEConfig, evaluate_kge, fit_kge

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=RECIPE["epochs"], help="smoke tests only")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    recipe = {**RECIPE, "epochs": args.epochs}
    meta = {"recipe": recipe, "data": f"pykeen=={PYKEEN_VERSION}",
            "data_sha256": {f"{n}/{s}": h for (n, s), h in sorted(SHA256.items())},
            "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads()}
    try:
        results = open_study(args.out, "runs", meta, ("recipe", "data_sha256"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    done = {(r["dataset"], r["model"], r["seed"]) for r in results["runs"]}
    for name in args.datasets:
        ds = load_kg(name)
        for model_name in args.models:
            for seed in args.seeds:
                if (name, model_name, seed) in done:
                    continue
                cfg = KGEConfig(model=model_name, seed=seed, **recipe)
                start = time.process_time()
                model, _ = fit_kge(ds, cfg)
                cpu_s = time.process_time() - start
                run = {"dataset": name, "model": model_name, "seed": seed,
                       "valid": evaluate_kge(model, ds, "valid"),
                       "test": evaluate_kge(model, ds, "test"), "cpu_s": round(cpu_s, 1)}
                results["runs"].append(run)
                write_atomic(args.out, results)
                print(f"{name} {model_name} seed {seed}: test MRR {run['test']['MRR']:.3f} "
                      f"({cpu_s:.1f} s CPU)", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
