"""Three small real link-prediction benchmarks: UMLS, Kinships and Nations.

The pykeen 1.11.1 wheel ships each set as three TSV files (``head<TAB>relation<TAB>tail``, one
triple a line) under ``pykeen/datasets/<name>/{train,valid,test}.txt``. These are the splits of
Rocktäschel & Riedel (2017) that Dettmers et al. (2018) and Das et al. (2018) use. We read the
files directly, without importing pykeen (its import needs dependencies the book does not
install), and check every file's sha256 so a changed file cannot silently change the numbers.

Ids are deterministic: entities and relations sorted by name over all three splits, so the same
name always gets the same id on every machine.

    ds = load_kg("umls")
    ds.train                 # LongTensor (5216, 3): columns head, relation, tail
    ds.entities[ds.train[0, 0]], ds.relations[ds.train[0, 1]]
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch

NAMES = ("nations", "kinships", "umls")
SPLITS = ("train", "valid", "test")
PYKEEN_VERSION = "1.11.1"
INSTALL_HINT = f"pip install --no-deps pykeen=={PYKEEN_VERSION}"
SHA256 = {
    ("umls", "train"): "873ef4925516b83e7f6f8cc02b4be51d848828710a7f65a956f0ac4a9e452f35",
    ("umls", "valid"): "025c98f8a4891e2a6582ec5b40ee0d904031edad9c52554522f4b7904820c98e",
    ("umls", "test"): "a7eb529a3d2810fcc96341ccc97c625a5e202f8389673aa6bd317eeebbb79014",
    ("kinships", "train"): "738612111a6acf0e39662bde24c7e72a4d1edf20931beea077da367dda689731",
    ("kinships", "valid"): "c56f8630a583178b1e569f11a64aa535ae1ce0b0912d8b1e24716be2b37f04da",
    ("kinships", "test"): "05e5733265761d55be9c05bfaff5a8d0808df46f9c1e9d66cc3f2fe114e43d88",
    ("nations", "train"): "0830fa9da8e5bba2ccdaa45b7bdc9130451ba66b09ff2708f35fccaf82473e57",
    ("nations", "valid"): "2b337a62e51a2f45c283eac98a70d21b7e0e102136be1539b2a52c652a7b0530",
    ("nations", "test"): "3971085165b47b6aeaec68058c6d8d98b3005e929db81268410b95ae4db770ab",
}


@dataclass
class KGDataset:
    """One benchmark: triples as (n, 3) LongTensors of ids (head, relation, tail)."""

    name: str
    entities: list[str]          # id -> name, sorted
    relations: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    @property
    def n_relations(self) -> int:
        return len(self.relations)

    def counts(self) -> dict[str, int]:
        return {"entities": self.n_entities, "relations": self.n_relations,
                "train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
        return getattr(self, name)


def file_path(name: str, split: str) -> Path:
    """Where the installed pykeen wheel keeps ``<name>/<split>.txt`` (pykeen is not imported)."""
    try:
        dist = importlib.metadata.distribution("pykeen")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the {name} benchmark is read from the pykeen wheel, which is not "
                                f"installed; run `{INSTALL_HINT}` (no dependencies needed)") from None
    return Path(dist.locate_file(f"pykeen/datasets/{name}/{split}.txt"))


def read_triples(path: Path, sha256: str | None = None) -> list[tuple[str, str, str]]:
    """The (head, relation, tail) name triples of one TSV file, its sha256 checked first."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the data with `{INSTALL_HINT}`")
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path} has sha256 {hashlib.sha256(data).hexdigest()}, expected "
                         f"{sha256}: the file changed; reinstall it with `{INSTALL_HINT}`")
    triples = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected head<TAB>relation<TAB>tail, "
                             f"got {line!r}")
        triples.append((parts[0], parts[1], parts[2]))
    return triples


def load_kg(name: str, root: str | Path | None = None) -> KGDataset:
    """Load one benchmark. ``root``: a folder holding train/valid/test.txt to read instead of
    the wheel's copy (then no hash is checked: for tests and your own graphs)."""
    if name not in NAMES:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {NAMES}")
    raw = {}
    for split in SPLITS:
        if root is None:
            raw[split] = read_triples(file_path(name, split), SHA256[(name, split)])
        else:
            raw[split] = read_triples(Path(root) / f"{split}.txt")
    every = [t for split in SPLITS for t in raw[split]]
    entities = sorted({t[0] for t in every} | {t[2] for t in every})
    relations = sorted({t[1] for t in every})
    e_id = {e: i for i, e in enumerate(entities)}
    r_id = {r: i for i, r in enumerate(relations)}

    def ids(triples):
        return torch.tensor([[e_id[h], r_id[r], e_id[t]] for h, r, t in triples],
                            dtype=torch.long).reshape(-1, 3)

    return KGDataset(name, entities, relations, *(ids(raw[s]) for s in SPLITS))
