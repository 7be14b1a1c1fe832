"""``pretrained(name)``: the small models that notebooks share.

Two families: character- or byte-level GPTs (causal LM; recipes with a ``GPTConfig``) and a
BERT-style encoder (``bertlike.BertLike`` trained with MLM + NSP on sentence pairs, or with MLM
alone on running text; recipes with a ``BertConfig``). Each model has a recipe in the library
and is shipped with the package as a safetensors file listed in ``weights/manifest.json``
(sha256, recipe, training-data hash, training time, validation metric). A shipped file whose
hash does not match the manifest is refused; a model with no usable file is trained from its
recipe on first use, into ``$LLMBOOK_CACHE`` (default ``~/.cache/llmbook``).

- ``recipes.py``   the recipes (``Recipe``, ``RECIPES``);
- ``families.py``  what differs between GPT and the BERT-style encoder, behind ``ModelFamily``;
- ``registry.py``  manifest, cache, save/load, ``pretrained``, ``verify``, ``train_and_ship``;
- ``__main__.py``  the command line: ``python -m llmbook_lib.hub list | train NAME [--checkpoint PATH] |
  verify [NAME...]``.
"""

from ..models.bertlike import mlm_nsp_metrics
from ..training.train import validation_loss
from .families import FAMILIES, ModelFamily, RecipeData, bert_val_batches, family_of
from .recipes import RECIPES, Recipe, train_val_text
from .registry import (MANIFEST, WEIGHTS_DIR, cache_dir, load_weights, manifest_entry, pretrained,
                       train_and_ship, train_recipe, verify)

__all__ = ["FAMILIES", "MANIFEST", "RECIPES", "WEIGHTS_DIR", "ModelFamily", "Recipe", "RecipeData",
           "bert_val_batches", "cache_dir", "family_of", "load_weights", "manifest_entry", "mlm_nsp_metrics",
           "pretrained", "train_and_ship", "train_recipe", "train_val_text", "validation_loss", "verify"]
