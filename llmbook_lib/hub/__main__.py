"""Command line of the shared models::

    python -m llmbook_lib.hub list
    python -m llmbook_lib.hub train NAME        # retrain and ship (writes weights/ + manifest)
    python -m llmbook_lib.hub train NAME --checkpoint PATH   # resumable: continue PATH if it exists
    python -m llmbook_lib.hub verify [NAME...]  # re-measure shipped models against the manifest
"""

from __future__ import annotations

import argparse

from . import recipes, registry
from .families import family_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbook_lib.hub",
                                     description="The small models that notebooks share.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="recipes and shipped models")
    p_train = sub.add_parser("train", help="retrain a recipe and ship it in llmbook_lib/weights")
    p_train.add_argument("names", nargs="+")
    p_train.add_argument("--checkpoint", metavar="PATH",
                         help="save a checkpoint every --checkpoint-every steps and resume from it "
                              "(one name only; BERT and task-model recipes)")
    p_train.add_argument("--checkpoint-every", type=int, default=250, metavar="N")
    p_verify = sub.add_parser("verify", help="re-measure shipped models against the manifest")
    p_verify.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        manifest = registry._read_manifest(registry.MANIFEST)
        for name, r in recipes.RECIPES.items():
            m = manifest.get(name)
            shipped = (f"shipped, {registry.metric_label(m['metric'])} {m['metric']['value']:.4f}"
                       if m else "not shipped")
            print(f"{name:14s} {shipped:30s} {r.description}")
        return 0
    if args.cmd == "train":
        if args.checkpoint and len(args.names) > 1:
            parser.error("--checkpoint takes one model name")
        for name in args.names:
            e = registry.train_and_ship(name, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
            print(f"{name}: {registry.metric_label(e['metric'])} {e['metric']['value']:.4f} "
                  f"{family_of(recipes.recipe(name)).unit} "
                  f"after {e['train_seconds']} s; {e['file_bytes'] / 1e6:.2f} MB")
        return 0
    return 0 if registry.verify(args.names or None) else 1


if __name__ == "__main__":
    raise SystemExit(main())
