"""Sentence templates: several Chinese/English pairs for each fact, question and summary.

A template is a *pair*: its zh and en sides say the same thing with the same slots, so any
rendering is an aligned translation pair. Slots: ``{s}`` the subject; ``{rel}`` the object of the
subject's fact ``rel`` (an entity or a value); ``{~rel}`` the subject of a fact ``rel`` whose object
is ``{s}`` (an inverse relation); ``{a_attr}`` the value with its English article ("an engineer").

A family groups the templates that express the same facts of one entity type, e.g.
``person:birth_year+born_in``; question families name a path, ``q:product:made_by>founded_by``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

SLOT = re.compile(r"\{(~?[a-z_]+)\}")


@dataclass(frozen=True)
class Template:
    id: str          # "person:born_in#2"
    family: str      # "person:born_in"
    zh: str
    en: str

    @cached_property
    def slots(self) -> tuple[str, ...]:
        """Fact slots in order of appearance (``{a_x}`` counts as ``x``; ``{s}`` excluded)."""
        names = [m.removeprefix("a_") for m in SLOT.findall(self.zh + self.en) if m != "s"]
        return tuple(dict.fromkeys(names))

    @cached_property
    def pronoun_ok(self) -> bool:
        """Both sides start with the subject, so it may be replaced by 他 / He / 该公司 / The company,
        and the sentence does not restate the subject's type ("The company is a … company")."""
        restates = any(w in self.en for w in (" company", " a university", " a city", " a business", " firm"))
        return not restates and all(t.startswith("{s}") and not t.startswith(("{s}，", "{s},"))
                                    for t in (self.zh, self.en))


def _family(prefix: str, key: str, pairs) -> list[Template]:
    return [Template(f"{prefix}{key}#{i}", f"{prefix}{key}", zh, en) for i, (zh, en) in enumerate(pairs)]


FACT_PAIRS = {
    # person
    "person:birth_year": [("{s}生于{birth_year}。", "{s} was born in {birth_year}."),
                          ("{s}出生于{birth_year}。", "{s} was born in the year {birth_year}."),
                          ("{s}的出生年份是{birth_year}。", "{s}'s year of birth is {birth_year}.")],
    "person:born_in": [("{s}出生于{born_in}。", "{s} was born in {born_in}."),
                       ("{s}的家乡是{born_in}。", "{s}'s hometown is {born_in}."),
                       ("{s}来自{born_in}。", "{s} comes from {born_in}."),
                       ("{born_in}是{s}的出生地。", "{born_in} is the birthplace of {s}.")],
    "person:birth_year+born_in": [("{s}于{birth_year}出生在{born_in}。", "{s} was born in {born_in} in {birth_year}."),
                                  ("{birth_year}，{s}出生于{born_in}。", "In {birth_year}, {s} was born in {born_in}."),
                                  ("{s}，{birth_year}生于{born_in}。", "{s} was born in {birth_year} in {born_in}.")],
    "person:born_in+works_for": [
        ("{s}出生于{born_in}，目前在{works_for}工作。", "{s} was born in {born_in} and now works at {works_for}."),
        ("{s}来自{born_in}，就职于{works_for}。", "{s} comes from {born_in} and is employed by {works_for}.")],
    "person:born_in+studied_at": [
        ("{s}生于{born_in}，毕业于{studied_at}。", "{s} was born in {born_in} and graduated from {studied_at}."),
        ("{s}是{born_in}人，曾在{studied_at}求学。", "{s} is from {born_in} and studied at {studied_at}.")],
    "person:studied_at": [("{s}毕业于{studied_at}。", "{s} graduated from {studied_at}."),
                          ("{s}曾在{studied_at}求学。", "{s} studied at {studied_at}."),
                          ("{s}是{studied_at}的毕业生。", "{s} is a graduate of {studied_at}."),
                          ("{s}早年就读于{studied_at}。", "As a young student, {s} attended {studied_at}.")],
    "person:occupation": [("{s}是一名{occupation}。", "{s} is {a_occupation}."),
                          ("{s}的职业是{occupation}。", "{s} works as {a_occupation}."),
                          ("{s}以{occupation}为业。", "By profession, {s} is {a_occupation}.")],
    "person:works_for": [("{s}在{works_for}工作。", "{s} works at {works_for}."),
                         ("{s}任职于{works_for}。", "{s} is employed by {works_for}."),
                         ("{s}目前就职于{works_for}。", "{s} currently works for {works_for}."),
                         ("{s}是{works_for}的员工。", "{s} is an employee of {works_for}.")],
    "person:occupation+works_for": [
        ("{s}是{works_for}的一名{occupation}。", "{s} is {a_occupation} at {works_for}."),
        ("{s}在{works_for}担任{occupation}。", "{s} works as {a_occupation} for {works_for}."),
        ("{s}现任{works_for}{occupation}。", "{s} is currently {a_occupation} at {works_for}.")],
    "person:~founded_by": [("{s}创办了{~founded_by}。", "{s} founded {~founded_by}."),
                           ("{s}是{~founded_by}的创始人。", "{s} is the founder of {~founded_by}."),
                           ("{s}一手创立了{~founded_by}。", "{s} built {~founded_by} from the ground up.")],
    "person:occupation+~founded_by": [
        ("{s}是一名{occupation}，创办了{~founded_by}。", "{s} is {a_occupation} who founded {~founded_by}."),
        ("{s}是{~founded_by}的创始人，也是一名{occupation}。",
         "{s} is the founder of {~founded_by} and {a_occupation}.")],
    "person:hobby": [("{s}喜欢{hobby}。", "{s} likes {hobby}."),
                     ("{s}的爱好是{hobby}。", "{s}'s hobby is {hobby}."),
                     ("{s}闲暇时最爱{hobby}。", "{s} is fond of {hobby}.")],
    # company
    "company:founded_year": [("{s}成立于{founded_year}。", "{s} was founded in {founded_year}."),
                             ("{s}创建于{founded_year}。", "{s} was established in {founded_year}."),
                             ("{s}始创于{founded_year}。", "{s} was set up in {founded_year}.")],
    "company:industry": [("{s}是一家{industry}公司。", "{s} is {a_industry} company."),
                         ("{s}属于{industry}行业。", "{s} belongs to the {industry} industry."),
                         ("{s}的主营业务属于{industry}领域。", "{s} operates in the {industry} sector.")],
    "company:headquartered_in": [
        ("{s}总部位于{headquartered_in}。", "{s} is headquartered in {headquartered_in}."),
        ("{s}的总部设在{headquartered_in}。", "{s} has its headquarters in {headquartered_in}."),
        ("{s}是一家总部在{headquartered_in}的企业。", "{s} is a business based in {headquartered_in}."),
        ("{headquartered_in}是{s}总部的所在地。", "{headquartered_in} is where {s} has its headquarters.")],
    "company:founded_by": [("{s}由{founded_by}创办。", "{s} was founded by {founded_by}."),
                           ("{s}的创始人是{founded_by}。", "The founder of {s} is {founded_by}."),
                           ("{founded_by}创立了{s}。", "{founded_by} started {s}."),
                           ("{s}是由{founded_by}一手创建的。", "{s} was built up by {founded_by}.")],
    "company:employees": [("{s}约有{employees}名员工。", "{s} has about {employees} employees."),
                          ("{s}的员工人数约为{employees}人。", "{s} employs about {employees} people."),
                          ("{s}拥有大约{employees}名员工。", "Roughly {employees} people work at {s}.")],
    "company:~made_by": [("{s}推出了{~made_by}。", "{s} released {~made_by}."),
                         ("{s}旗下的产品包括{~made_by}。", "{s}'s products include {~made_by}."),
                         ("{~made_by}是{s}的产品。", "{~made_by} is a product of {s}.")],
    "company:founded_year+headquartered_in": [
        ("{s}于{founded_year}在{headquartered_in}成立。", "{s} was founded in {headquartered_in} in {founded_year}."),
        ("{founded_year}，{s}在{headquartered_in}成立。", "In {founded_year}, {s} was founded in {headquartered_in}.")],
    "company:industry+headquartered_in": [
        ("{s}是一家总部位于{headquartered_in}的{industry}公司。",
         "{s} is {a_industry} company headquartered in {headquartered_in}."),
        ("{s}是{headquartered_in}的一家{industry}企业。", "{s} is {a_industry} firm from {headquartered_in}.")],
    "company:founded_by+headquartered_in": [
        ("{s}由{founded_by}创办，总部位于{headquartered_in}。",
         "{s} was founded by {founded_by} and is headquartered in {headquartered_in}."),
        ("{founded_by}创立的{s}把总部设在{headquartered_in}。",
         "Started by {founded_by}, {s} has its headquarters in {headquartered_in}.")],
    "company:founded_year+founded_by": [
        ("{s}由{founded_by}于{founded_year}创办。", "{s} was founded by {founded_by} in {founded_year}."),
        ("{founded_year}，{founded_by}创办了{s}。", "In {founded_year}, {founded_by} founded {s}.")],
    # university
    "university:founded_year": [("{s}创办于{founded_year}。", "{s} was founded in {founded_year}."),
                                ("{s}建校于{founded_year}。", "{s} opened its doors in {founded_year}."),
                                ("{s}始建于{founded_year}。", "{s} was established in {founded_year}.")],
    "university:located_in": [("{s}位于{located_in}。", "{s} is located in {located_in}."),
                              ("{s}坐落在{located_in}。", "{s} is situated in {located_in}."),
                              ("{s}是一所位于{located_in}的大学。", "{s} is a university in {located_in}.")],
    "university:students": [("{s}有在校学生约{students}人。", "{s} has about {students} students."),
                            ("{s}的在校生人数约为{students}人。", "About {students} students study at {s}."),
                            ("{s}目前约有{students}名学生。", "{s} currently enrols about {students} students.")],
    "university:founded_year+located_in": [
        ("{s}于{founded_year}在{located_in}建校。", "{s} was founded in {located_in} in {founded_year}."),
        ("{s}是一所{founded_year}创办、位于{located_in}的大学。",
         "{s} is a university in {located_in}, founded in {founded_year}.")],
    # product
    "product:category": [("{s}是一款{category}。", "{s} is {a_category}."),
                         ("{s}是一款{category}产品。", "{s} is a product in the {category} category."),
                         ("{s}是市面上的一款{category}。", "{s} is {a_category} on the market.")],
    "product:made_by": [("{s}由{made_by}推出。", "{s} was released by {made_by}."),
                        ("{s}是{made_by}的产品。", "{s} is a product of {made_by}."),
                        ("{s}出自{made_by}。", "{s} comes from {made_by}."),
                        ("{made_by}推出了{s}。", "{made_by} launched {s}.")],
    "product:launch_year": [("{s}于{launch_year}上市。", "{s} came out in {launch_year}."),
                            ("{s}在{launch_year}发布。", "{s} was launched in {launch_year}."),
                            ("{s}的上市时间是{launch_year}。", "{s} went on sale in {launch_year}.")],
    "product:price": [("{s}售价{price}。", "{s} sells for {price}."),
                      ("{s}的价格是{price}。", "{s} costs {price}."),
                      ("{s}定价为{price}。", "{s} is priced at {price}.")],
    "product:made_by+launch_year": [
        ("{made_by}于{launch_year}推出了{s}。", "{made_by} released {s} in {launch_year}."),
        ("{s}由{made_by}在{launch_year}推出。", "{s} was released by {made_by} in {launch_year}.")],
    "product:category+made_by+launch_year": [
        ("{s}是{made_by}于{launch_year}推出的一款{category}。", "{s} is {a_category} released by {made_by} in {launch_year}."),
        ("{launch_year}，{made_by}推出了{category}{s}。", "In {launch_year}, {made_by} launched the {category} {s}.")],
    "product:category+price": [("{s}是一款售价{price}的{category}。", "{s} is {a_category} that sells for {price}."),
                               ("{s}这款{category}的售价是{price}。", "The {category} {s} is priced at {price}.")],
    # city
    "city:population": [("{s}的人口约为{population}。", "{s} has a population of about {population}."),
                        ("{s}是一座约有{population}人口的城市。", "{s} is a city of about {population} people."),
                        ("{s}约有{population}居民。", "{s} is home to about {population} residents.")],
    "city:~headquartered_in": [
        ("{~headquartered_in}的总部设在{s}。", "{~headquartered_in} has its headquarters in {s}."),
        ("{s}是{~headquartered_in}总部的所在地。", "{s} is home to the headquarters of {~headquartered_in}."),
        ("总部位于{s}的企业包括{~headquartered_in}。", "Companies based in {s} include {~headquartered_in}.")],
    "city:~located_in": [("{~located_in}就坐落在{s}。", "{~located_in} is located in {s}."),
                         ("{s}是{~located_in}的所在地。", "{s} is home to {~located_in}."),
                         ("{s}拥有{~located_in}等高校。", "{s} has universities such as {~located_in}.")],
}

QUESTION_PAIRS = {
    "person:birth_year": [("{s}是哪一年出生的？", "In what year was {s} born?"), ("{s}出生于哪一年？", "When was {s} born?")],
    "person:born_in": [("{s}出生在哪座城市？", "In which city was {s} born?"), ("{s}的家乡是哪里？", "Where is {s}'s hometown?")],
    "person:studied_at": [("{s}毕业于哪所大学？", "Which university did {s} graduate from?"),
                          ("{s}在哪所大学读的书？", "Where did {s} study?")],
    "person:occupation": [("{s}的职业是什么？", "What is {s}'s occupation?"),
                          ("{s}是做什么工作的？", "What does {s} do for a living?")],
    "person:works_for": [("{s}在哪家公司工作？", "Which company does {s} work for?"),
                         ("{s}就职于哪家公司？", "Where is {s} employed?")],
    "person:~founded_by": [("{s}创办了哪家公司？", "Which company did {s} found?"),
                           ("{s}是哪家公司的创始人？", "Of which company is {s} the founder?")],
    "person:hobby": [("{s}有什么爱好？", "What is {s}'s hobby?"), ("{s}平时喜欢做什么？", "What does {s} like to do?")],
    "company:founded_year": [("{s}成立于哪一年？", "When was {s} founded?"), ("{s}是哪一年创立的？", "In what year was {s} established?")],
    "company:industry": [("{s}属于哪个行业？", "Which industry is {s} in?"),
                         ("{s}是一家什么行业的公司？", "In what industry does {s} operate?")],
    "company:headquartered_in": [("{s}的总部在哪座城市？", "In which city is {s} headquartered?"),
                                 ("{s}总部位于哪里？", "Where is {s} based?")],
    "company:founded_by": [("{s}是谁创办的？", "Who founded {s}?"), ("{s}的创始人是谁？", "Who is the founder of {s}?")],
    "company:employees": [("{s}大约有多少名员工？", "About how many employees does {s} have?"),
                          ("{s}有多少员工？", "How many people work at {s}?")],
    "university:founded_year": [("{s}创办于哪一年？", "When was {s} founded?"), ("{s}是哪一年建校的？", "In what year did {s} open?")],
    "university:located_in": [("{s}位于哪座城市？", "In which city is {s} located?"), ("{s}坐落在哪里？", "Where is {s}?")],
    "university:students": [("{s}有多少在校学生？", "How many students does {s} have?"),
                            ("{s}的学生人数约为多少？", "About how many students study at {s}?")],
    "product:category": [("{s}是什么产品？", "What kind of product is {s}?"), ("{s}属于哪一类产品？", "What type of product is {s}?")],
    "product:made_by": [("{s}是哪家公司的产品？", "Which company makes {s}?"), ("{s}由哪家公司推出？", "Which company released {s}?")],
    "product:launch_year": [("{s}是哪一年上市的？", "When did {s} come out?"), ("{s}在哪一年发布？", "In what year was {s} launched?")],
    "product:price": [("{s}售价多少？", "How much does {s} cost?"), ("{s}的价格是多少？", "What is the price of {s}?")],
    "city:population": [("{s}有多少人口？", "What is the population of {s}?"),
                        ("{s}大约住着多少人？", "About how many people live in {s}?")],
    # two hops
    "person:works_for>headquartered_in": [
        ("{s}所在的公司总部位于哪座城市？", "In which city is the company that {s} works for headquartered?"),
        ("{s}工作的那家公司，总部设在哪里？", "Where is the employer of {s} headquartered?")],
    "person:studied_at>located_in": [("{s}毕业的大学位于哪座城市？", "In which city is the university that {s} graduated from?"),
                                     ("{s}的母校坐落在哪里？", "Where is the alma mater of {s} located?")],
    "person:works_for>founded_by": [("{s}所在公司的创始人是谁？", "Who founded the company that {s} works for?"),
                                    ("{s}的雇主是由谁创办的？", "Who is the founder of {s}'s employer?")],
    "person:works_for>founded_year": [("{s}任职的公司成立于哪一年？", "In what year was the company that {s} works for founded?"),
                                      ("{s}所在的公司是哪一年创立的？", "When was {s}'s employer established?")],
    "person:born_in>population": [("{s}的家乡有多少人口？", "What is the population of {s}'s hometown?"),
                                  ("{s}出生的城市大约有多少人？", "About how many people live in the city where {s} was born?")],
    "person:~founded_by>headquartered_in": [
        ("{s}创办的公司总部在哪里？", "Where is the company founded by {s} headquartered?"),
        ("{s}创立的企业总部设在哪座城市？", "In which city is the firm that {s} founded based?")],
    "product:made_by>headquartered_in": [("推出{s}的公司总部在哪座城市？", "In which city is the maker of {s} headquartered?"),
                                         ("{s}的生产商总部位于哪里？", "Where is the company that makes {s} based?")],
    "product:made_by>founded_by": [("{s}的生产商是由谁创办的？", "Who founded the company that makes {s}?"),
                                   ("推出{s}的公司，创始人是谁？", "Who is the founder of the company behind {s}?")],
    "product:made_by>founded_year": [("推出{s}的公司成立于哪一年？", "In what year was the maker of {s} founded?"),
                                     ("{s}的生产商是哪一年创立的？", "When was the company that makes {s} established?")],
    # three hops
    "product:made_by>founded_by>born_in": [
        ("推出{s}的公司，其创始人出生在哪座城市？", "In which city was the founder of the company that makes {s} born?"),
        ("{s}生产商的创始人是哪里人？", "Where was the founder of the maker of {s} born?")],
    "product:made_by>founded_by>studied_at": [
        ("生产{s}的公司的创始人毕业于哪所大学？", "Which university did the founder of the company that makes {s} graduate from?"),
        ("{s}生产商的创始人在哪所大学读的书？", "Where did the founder of the maker of {s} study?")],
    "person:works_for>founded_by>born_in": [
        ("{s}所在公司的创始人出生在哪座城市？", "In which city was the founder of the company that {s} works for born?"),
        ("{s}的雇主的创始人是哪里人？", "Where was the founder of {s}'s employer born?")],
    "person:works_for>founded_by>birth_year": [
        ("{s}所在公司的创始人是哪一年出生的？", "In what year was the founder of {s}'s employer born?"),
        ("{s}任职的公司，其创始人出生于哪一年？", "When was the founder of the company that {s} works for born?")],
    "person:studied_at>located_in>population": [
        ("{s}的母校所在的城市有多少人口？", "What is the population of the city where {s}'s alma mater is located?"),
        ("{s}毕业的大学所在城市大约有多少人？", "About how many people live in the city of the university that {s} graduated from?")],
}

SUMMARY_PAIRS = {
    "person:occupation+born_in+works_for": [
        ("{s}是一名出生于{born_in}的{occupation}，现任职于{works_for}。",
         "{s} is {a_occupation} from {born_in} who works for {works_for}."),
        ("{s}生于{born_in}，是{works_for}的{occupation}。", "Born in {born_in}, {s} is {a_occupation} at {works_for}.")],
    "person:birth_year+born_in+~founded_by": [
        ("{s}，{birth_year}生于{born_in}，是{~founded_by}的创始人。",
         "{s}, born in {born_in} in {birth_year}, is the founder of {~founded_by}."),
        ("{~founded_by}的创始人{s}于{birth_year}出生在{born_in}。",
         "The founder of {~founded_by}, {s}, was born in {born_in} in {birth_year}.")],
    "person:occupation+birth_year+born_in": [
        ("{s}是一名{birth_year}出生于{born_in}的{occupation}。", "{s} is {a_occupation} born in {born_in} in {birth_year}."),
        ("{s}是{occupation}，{birth_year}生于{born_in}。", "{s} is {a_occupation} who was born in {born_in} in {birth_year}.")],
    "company:industry+founded_by+founded_year+headquartered_in": [
        ("{s}是{founded_by}于{founded_year}创办的{industry}公司，总部位于{headquartered_in}。",
         "{s} is {a_industry} company founded by {founded_by} in {founded_year} and headquartered in {headquartered_in}."),
        ("{s}是一家总部在{headquartered_in}的{industry}公司，由{founded_by}创立于{founded_year}。",
         "Founded by {founded_by} in {founded_year}, {s} is {a_industry} company based in {headquartered_in}.")],
    "university:founded_year+located_in+students": [
        ("{s}是一所位于{located_in}、创办于{founded_year}的大学，约有{students}名学生。",
         "{s} is a university in {located_in}, founded in {founded_year}, with about {students} students."),
        ("{s}于{founded_year}在{located_in}建校，现有学生约{students}人。",
         "Founded in {located_in} in {founded_year}, {s} now has about {students} students.")],
    "product:category+made_by+launch_year+price": [
        ("{s}是{made_by}于{launch_year}推出的{category}，售价{price}。",
         "{s} is {a_category} released by {made_by} in {launch_year} for {price}."),
        ("{made_by}在{launch_year}推出了售价{price}的{category}{s}。",
         "In {launch_year}, {made_by} launched {s}, {a_category} priced at {price}.")],
}

# Paragraph order of each type's topics; "~rel" topics may hold several facts.
TOPICS = {
    "person": ("birth_year", "born_in", "studied_at", "occupation", "works_for", "~founded_by", "hobby"),
    "company": ("founded_year", "headquartered_in", "industry", "founded_by", "employees", "~made_by"),
    "university": ("founded_year", "located_in", "students"),
    "product": ("category", "made_by", "launch_year", "price"),
    "city": ("population", "~headquartered_in", "~located_in"),
}


def _build(pairs: dict, prefix: str = "") -> dict[str, list[Template]]:
    return {prefix + key: _family(prefix, key, p) for key, p in pairs.items()}


FACTS = _build(FACT_PAIRS)
QUESTIONS = _build(QUESTION_PAIRS, "q:")
SUMMARIES = _build(SUMMARY_PAIRS, "sum:")
ALL_FAMILIES: dict[str, list[Template]] = {**FACTS, **QUESTIONS, **SUMMARIES}


# Dialogue flows: the template split holds out whole flows (an unseen dialogue structure).
DIALOGUE_FLOWS = {
    "dlg:ticket": ["oneshot", "stepwise", "correction"],
    "dlg:lookup": ["product", "company", "launch"],
    "dlg:persona": ["interview", "exchange", "introduce"],
}
DIALOGUES = {fam: [Template(f"{fam}#{name}", fam, name, name) for name in names]
             for fam, names in DIALOGUE_FLOWS.items()}
ALL_FAMILIES.update(DIALOGUES)
