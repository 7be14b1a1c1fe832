"""The knowledge graph of the synthetic world: typed entities, attributes and relations.

Everything is drawn from one ``random.Random(seed)``; iteration is over lists in a fixed order,
never over sets, so the same seed gives the same world on every machine and Python version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import lexicon as L

ENTITY_TYPES = ("person", "city", "company", "university", "product")
NER_LABEL = {"person": "PER", "city": "LOC", "company": "ORG", "university": "ORG", "product": "PRODUCT"}

# relation -> (subject type, object type). Attributes have a literal value instead of an object.
RELATIONS = {
    "born_in": ("person", "city"),
    "studied_at": ("person", "university"),
    "works_for": ("person", "company"),
    "founded_by": ("company", "person"),
    "headquartered_in": ("company", "city"),
    "located_in": ("university", "city"),
    "made_by": ("product", "company"),
}
ATTRIBUTES = {
    "person": ("birth_year", "occupation", "hobby"),
    "city": ("population",),
    "company": ("founded_year", "industry", "employees"),
    "university": ("founded_year", "students"),
    "product": ("category", "launch_year", "price"),
}
CURRENT_YEAR = 2024


@dataclass(frozen=True)
class Entity:
    """One thing in the world, with its name in both languages and its literal attributes."""
    id: str
    type: str
    zh: str
    en: str
    attrs: dict = field(default_factory=dict, hash=False, compare=False)

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def label(self) -> str:
        """The NER label: PER, LOC, ORG or PRODUCT."""
        return NER_LABEL[self.type]


@dataclass(frozen=True)
class Fact:
    """``subject relation object``: object is an entity id for relations, a value for attributes."""
    id: str
    subject: str
    relation: str
    object: object
    is_attribute: bool = False


@dataclass
class Graph:
    entities: dict[str, Entity]
    facts: list[Fact]


class _Names:
    """Keeps names distinct: no Chinese name equals, contains or is contained in another, and no
    English name does so word-wise ("Wang Wei" vs "Wang Weiming" is fine, "Li Na" vs "Li Na Li" not)."""

    def __init__(self):
        self.zh: dict[str, str] = {}
        self.en: dict[tuple, str] = {}
        self._zh_parts: set[str] = set()      # every substring of every Chinese name
        self._en_parts: set[tuple] = set()    # every run of words of every English name

    @staticmethod
    def _parts(seq):
        return {seq[i:j] for i in range(len(seq)) for j in range(i + 1, len(seq) + 1)}

    def free(self, zh: str, en: str, inside: tuple[str, str] | None = None) -> bool:
        """True if the name pair may be used; ``inside`` is a (zh, en) name it may contain."""
        words = tuple(en.split())
        if zh in self._zh_parts or words in self._en_parts:
            return False
        ok_zh, ok_en = (inside[0], tuple(inside[1].split())) if inside else (None, None)
        return not (any(p in self.zh and p != ok_zh for p in self._parts(zh))
                    or any(p in self.en and p != ok_en for p in self._parts(words)))

    def add(self, eid: str, zh: str, en: str) -> None:
        words = tuple(en.split())
        self.zh.setdefault(zh, eid)
        self.en.setdefault(words, eid)
        self._zh_parts |= self._parts(zh)
        self._en_parts |= self._parts(words)


def _weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs)
    return rng.choices(items, weights=weights)[0]


def _person_name(rng: random.Random, gender: str, foreign: bool) -> tuple[str, str]:
    if foreign:
        first = rng.choice(L.EN_FIRST_MALE if gender == "M" else L.EN_FIRST_FEMALE)
        last = rng.choice(L.EN_SURNAMES)
        first_zh = (L.EN_MALE if gender == "M" else L.EN_FEMALE)[first]
        return f"{first_zh}·{L.EN_LAST[last]}", f"{first} {last}"
    surname = _weighted(rng, L.ZH_SURNAMES)
    given = rng.choice(L.ZH_GIVEN_MALE if gender == "M" else L.ZH_GIVEN_FEMALE)
    return surname + given, f"{L.SURNAME_PINYIN[surname]} {L.pinyin_given(given)}"


def _round(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def build_graph(rng: random.Random, size: float = 1.0, twin_fraction: float = 0.08,
                foreign_fraction: float = 0.15) -> Graph:
    """Draw the world: cities, universities, companies (each with a founder), products, people."""
    n_city, n_uni = max(6, round(24 * size)), max(3, round(12 * size))
    n_company, n_product = max(6, round(36 * size)), max(6, round(60 * size))
    n_person = max(20, round(180 * size))
    names, ents, facts = _Names(), {}, []
    counters = {t: 0 for t in ENTITY_TYPES}

    def new(etype, zh, en, **attrs) -> Entity:
        counters[etype] += 1
        e = Entity(f"{etype}-{counters[etype]:04d}", etype, zh, en, attrs)
        ents[e.id] = e
        names.add(e.id, zh, en)
        for a in ATTRIBUTES[etype]:
            if a in attrs:
                facts.append(Fact(f"F{len(facts):05d}", e.id, a, attrs[a], True))
        return e

    def rel(subject: Entity, relation: str, obj: Entity) -> None:
        facts.append(Fact(f"F{len(facts):05d}", subject.id, relation, obj.id))

    def draw_name(make, tries: int = 500):
        for _ in range(tries):
            zh, en = make()
            if names.free(zh, en):
                return zh, en
        raise ValueError("ran out of distinct names; use a smaller size")

    # Cities: invented names, none of them a well-known real place.
    pieces = [(p + s, pe + se) for p, pe in L.CITY_PREFIX.items() for s, se in L.CITY_SUFFIX.items()
              if p + s not in L.REAL_PLACES]
    cities = []
    for zh, en in rng.sample(pieces, min(n_city, len(pieces))):
        if names.free(zh, en):
            cities.append(new("city", zh, en, population=rng.randint(20, 1500) * 10_000, key=zh[0]))

    # Universities: "<city>理工大学" located in that city, or a motto name located anywhere.
    unis = []
    mottos = list(L.UNIVERSITY_MOTTO.items())
    rng.shuffle(mottos)
    for _ in range(100 * n_uni):
        if len(unis) == n_uni:
            break
        home = rng.choice(cities)
        if mottos and rng.random() < 0.4:
            base_zh, base_en = mottos.pop()
            kind_zh, kind_en = L.UNIVERSITY_KIND[0]
        else:
            base_zh, base_en = home.zh, home.en
            kind_zh, kind_en = rng.choice(L.UNIVERSITY_KIND)
        zh, en = base_zh + kind_zh, kind_en.format(base_en)
        if not names.free(zh, en, inside=(home.zh, home.en)):
            continue
        u = new("university", zh, en, founded_year=rng.randint(1890, 1985),
                students=_round(rng.lognormvariate(9.6, 0.5), 100), key=base_zh)
        rel(u, "located_in", home)
        unis.append(u)

    def person(gender=None, born=(1955, 2000), name=None) -> Entity:
        gender = gender or rng.choice("MF")
        foreign = rng.random() < foreign_fraction
        zh, en = name or draw_name(lambda: _person_name(rng, gender, foreign))
        key = zh.split("·")[-1] if "·" in zh else zh[0]          # the family name
        p = new("person", zh, en, birth_year=rng.randint(*born), gender=gender, hobby=rng.choice(L.HOBBIES), key=key)
        rel(p, "born_in", rng.choice(cities))
        if rng.random() < 0.85:
            rel(p, "studied_at", rng.choice(unis))
        return p

    def set_occupation(p: Entity, word) -> None:
        p.attrs["occupation"] = word
        facts.append(Fact(f"F{len(facts):05d}", p.id, "occupation", word, True))

    # Companies, each founded by its own entrepreneur.
    companies = []
    producers = [i for i in L.INDUSTRIES if i.products]
    for _ in range(100 * n_company):
        if len(companies) == n_company:
            break
        industry = rng.choice(producers) if rng.random() < 0.7 else rng.choice(L.INDUSTRIES)
        brand = rng.choice(L.BRANDS)
        zh, en = brand + industry.zh, f"{L.BRAND_PINYIN[brand]} {industry.en_name}"
        if not names.free(zh, en):
            continue
        year = rng.randint(1978, 2018)
        c = new("company", zh, en, founded_year=year, industry=industry,
                employees=_round(rng.lognormvariate(7.0, 1.2), 10), key=brand)
        rel(c, "headquartered_in", rng.choice(cities))
        founder = person(born=(max(1930, year - 60), year - 25))
        set_occupation(founder, L.FOUNDER)
        rel(c, "founded_by", founder)
        companies.append(c)

    # Products of the companies whose industry makes things.
    makers = [c for c in companies if c.attrs["industry"].products]
    for _ in range(n_product if makers else 0):
        c = rng.choice(makers)
        key = rng.choice(c.attrs["industry"].products)
        word, (lo, hi) = L.CATEGORIES[key]
        step = 100 if hi > 2000 else 10
        price = max(lo, rng.randint(lo, hi) // step * step - 1)      # 2999, 439: shop prices
        for _ in range(50):
            series = rng.choice(list(L.PRODUCT_SERIES))
            code = rng.choice(L.PRODUCT_CODE_LETTERS) + str(rng.randint(2, 99))
            zh, en = series + code, f"{L.PRODUCT_SERIES[series]} {code}"
            if names.free(zh, en):
                year = rng.randint(max(c.attrs["founded_year"], 2005), CURRENT_YEAR)
                p = new("product", zh, en, category=word, launch_year=year, price=price, key=series)
                rel(p, "made_by", c)
                break

    # Employees and freelancers.
    staff = []
    while counters["person"] < n_person:
        p = person()
        if rng.random() < 0.9:
            set_occupation(p, rng.choice(L.OCCUPATIONS))
            rel(p, "works_for", rng.choice(companies))
        else:
            set_occupation(p, rng.choice(L.FREELANCE))
        staff.append(p)

    # Namesakes: a second person with the same name, born elsewhere (entity linking must decide).
    for p in rng.sample(staff, max(1, round(twin_fraction * len(staff)))):
        birthplace = next(f.object for f in facts if f.subject == p.id and f.relation == "born_in")
        twin = person(gender=p.attrs["gender"], name=(p.zh, p.en))
        born = next(i for i, f in enumerate(facts) if f.subject == twin.id and f.relation == "born_in")
        others = [c for c in cities if c.id != birthplace]
        facts[born] = Fact(facts[born].id, twin.id, "born_in", rng.choice(others).id)
        set_occupation(twin, rng.choice(L.OCCUPATIONS))
        employer = next((f.object for f in facts if f.subject == p.id and f.relation == "works_for"), None)
        rel(twin, "works_for", rng.choice([c for c in companies if c.id != employer]))
    return Graph(ents, facts)
