"""Word lists of the synthetic world: names with their two spellings, and bilingual vocabularies.

Person names come from ``faker`` (zh_CN and en_US locales). A Chinese name needs a romanised
(pinyin) English spelling and an English name needs a standard Chinese transliteration; faker
has neither mapping, so the tables below give them, and only faker's names that the tables
cover are drawn. City, university and product names are invented from the pieces below so that
no fact of the world can be checked against (or confused with) the real one.

The same seed gives the same world for a given faker version; another version may ship other
name lists and so another world.
"""

from __future__ import annotations

from dataclasses import dataclass

from faker.providers.address.zh_CN import Provider as _ZhAddress
from faker.providers.company.zh_CN import Provider as _ZhCompany
from faker.providers.person.en_US import Provider as _EnPerson
from faker.providers.person.zh_CN import Provider as _ZhPerson

# Pinyin of every character in faker's zh_CN given names.
GIVEN_PINYIN = dict(zip(
    "东丹丽云亮伟佳俊倩健兰兵军冬凤凯刚利勇华博国坤娜娟婷宁宇小岩峰帅帆平建强彬志想慧成敏文斌旭明春晨晶杨杰林柳桂梅楠欢欣"
    "波洁洋浩海涛淑燕玉玲珍琳琴瑜瑞璐畅磊秀红艳芝花芳英荣莉莹萍超辉金鑫阳雪雷霞静颖飞香鹏龙",
    "dong dan li yun liang wei jia jun qian jian lan bing jun dong feng kai gang li yong hua bo guo kun na juan ting ning "
    "yu xiao yan feng shuai fan ping jian qiang bin zhi xiang hui cheng min wen bin xu ming chun chen jing yang jie lin liu "
    "gui mei nan huan xin bo jie yang hao hai tao shu yan yu ling zhen lin qin yu rui lu chang lei xiu hong yan zhi hua "
    "fang ying rong li ying ping chao hui jin xin yang xue lei xia jing ying fei xiang peng long".split()))

# The 100 most frequent surnames in faker's zh_CN list, romanised.
SURNAME_PINYIN = dict(zip(
    "王李张刘陈杨黄吴赵周徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢傅钟姜崔谭廖范"
    "汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严赖覃洪武莫孔",
    "Wang Li Zhang Liu Chen Yang Huang Wu Zhao Zhou Xu Sun Ma Zhu Hu Lin Guo He Gao Luo Zheng Liang Xie Song Tang Xu Deng "
    "Feng Han Cao Zeng Peng Xiao Cai Pan Tian Dong Yuan Yu Yu Ye Jiang Du Su Wei Cheng Lyu Ding Shen Ren Yao Lu Fu Zhong "
    "Jiang Cui Tan Liao Fan Wang Lu Jin Shi Dai Jia Wei Xia Qiu Fang Hou Zou Xiong Meng Qin Bai Jiang Yan Xue Yin Duan Lei "
    "Li Shi Long Tao He Gu Mao Hao Gong Shao Wan Qian Yan Lai Qin Hong Wu Mo Kong".split()))

# English names from faker's en_US lists with their standard Chinese transliterations.
EN_MALE = dict(zip(
    "James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew Anthony Mark Paul Steven "
    "Andrew Kevin Brian George Edward Peter Eric Ryan Jacob Samuel Henry Adam Frank".split(),
    "詹姆斯 约翰 罗伯特 迈克尔 威廉 戴维 理查德 约瑟夫 托马斯 查尔斯 丹尼尔 马修 安东尼 马克 保罗 史蒂文 安德鲁 凯文 "
    "布赖恩 乔治 爱德华 彼得 埃里克 瑞安 雅各布 塞缪尔 亨利 亚当 弗兰克".split()))
EN_FEMALE = dict(zip(
    "Mary Jennifer Linda Elizabeth Susan Jessica Sarah Karen Nancy Lisa Emily Laura Anna Emma Olivia Sophia Grace "
    "Alice Rachel Julia Amy Helen".split(),
    "玛丽 詹妮弗 琳达 伊丽莎白 苏珊 杰西卡 萨拉 卡伦 南希 莉萨 埃米莉 劳拉 安娜 埃玛 奥利维娅 索菲娅 格雷丝 艾丽斯 "
    "雷切尔 朱莉娅 埃米 海伦".split()))
EN_LAST = dict(zip(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Moore Jackson Martin Thompson White Harris "
    "Clark Lewis Robinson Walker Hall Young Wright Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
    "Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Reed Bell Kelly "
    "Howard Ward Watson Brooks Bennett Gray Hughes Foster".split(),
    "史密斯 约翰逊 威廉斯 布朗 琼斯 米勒 戴维斯 威尔逊 安德森 泰勒 穆尔 杰克逊 马丁 汤普森 怀特 哈里斯 克拉克 刘易斯 "
    "鲁滨逊 沃克 霍尔 扬 赖特 格林 贝克 亚当斯 纳尔逊 希尔 坎贝尔 米切尔 罗伯茨 卡特 菲利普斯 埃文斯 特纳 帕克 柯林斯 "
    "爱德华兹 斯图尔特 莫里斯 墨菲 库克 罗杰斯 摩根 库珀 里德 贝尔 凯利 霍华德 沃德 沃森 布鲁克斯 贝内特 格雷 休斯 "
    "福斯特".split()))

# Company brands: faker's two-character zh_CN company prefixes (those with an unambiguous
# romanisation), then a few more in the same style.
BRAND_PINYIN = {
    "超艺": "Chaoyi", "和泰": "Hetai", "九方": "Jiufang", "海创": "Haichuang", "凌云": "Lingyun", "彩虹": "Caihong",
    "天益": "Tianyi", "创汇": "Chuanghui", "思优": "Siyou", "盟新": "Mengxin", "创亿": "Chuangyi", "明腾": "Mingteng",
    "良诺": "Liangnuo", "天开": "Tiankai", "联软": "Lianruan", "南康": "Nankang", "银嘉": "Yinjia", "佳禾": "Jiahe",
    "国讯": "Guoxun", "群英": "Qunying", "精芯": "Jingxin", "昊嘉": "Haojia", "维涛": "Weitao",
    "星辰": "Xingchen", "远航": "Yuanhang", "鼎盛": "Dingsheng", "恒通": "Hengtong", "华瑞": "Huarui", "博达": "Boda",
    "启航": "Qihang", "东升": "Dongsheng", "安信": "Anxin", "宏图": "Hongtu", "万象": "Wanxiang", "蓝海": "Lanhai",
}

# Fictional cities: prefix + suffix, romanised by concatenation.
CITY_PREFIX = dict(zip("青云临白石宁平松枫桃兰丰鹤泉秋春翠雁桐芦银沙柏橙", (
    "Qing Yun Lin Bai Shi Ning Ping Song Feng Tao Lan Feng He Quan Qiu Chun Cui Yan Tong Lu Yin Sha Bai Cheng").split()))
CITY_SUFFIX = dict(zip("州城阳川原陵溪港湖关滨浦", "zhou cheng yang chuan yuan ling xi gang hu guan bin pu".split()))
REAL_PLACES = set(_ZhAddress.cities) | {  # combinations that name a well-known real place
    "青州", "兰州", "泉州", "宁波", "平阳", "白城", "松原", "丰城", "云阳", "临川", "石城", "桐城", "沙湖", "银川",
    "春城", "宁阳", "兰陵", "平原", "临湖", "临港", "宁城", "临沂", "青阳", "桃源"}

UNIVERSITY_MOTTO = {"明德": "Mingde", "致远": "Zhiyuan", "博文": "Bowen", "弘毅": "Hongyi", "求是": "Qiushi",
                    "格致": "Gezhi", "启明": "Qiming", "崇文": "Chongwen", "笃行": "Duxing", "厚德": "Houde",
                    "知行": "Zhixing", "思源": "Siyuan"}
UNIVERSITY_KIND = [("大学", "{} University"), ("理工大学", "{} University of Technology"),
                   ("师范大学", "{} Normal University"), ("医科大学", "{} Medical University")]

PRODUCT_SERIES = {"青鸟": "Bluebird", "星河": "Galaxy", "极光": "Aurora", "飞燕": "Swift", "雷霆": "Thunder",
                  "晨曦": "Dawn", "流星": "Meteor", "海豚": "Dolphin", "猎鹰": "Falcon", "凤凰": "Phoenix",
                  "蜂鸟": "Hummingbird", "北斗": "Polaris", "白鲸": "Beluga", "火星": "Mars", "天鹅": "Swan",
                  "松鼠": "Squirrel", "猎豹": "Cheetah", "星云": "Nebula", "海燕": "Petrel", "远山": "Summit"}
PRODUCT_CODE_LETTERS = "AKMSTVXZ"


@dataclass(frozen=True)
class Word:
    """A bilingual vocabulary item: Chinese, English, and the English indefinite article."""
    zh: str
    en: str
    article: str = ""          # "a" / "an" / "a pair of"; empty means compute from the first letter

    def en_a(self) -> tuple[str, str]:
        """(article, noun) for "is an engineer"; the noun alone is the answer span."""
        art = self.article or ("an" if self.en[0] in "aeiou" else "a")
        return art + " ", self.en


OCCUPATIONS = [Word(*w) for w in [
    ("工程师", "engineer"), ("设计师", "designer"), ("研究员", "researcher"), ("会计师", "accountant"),
    ("律师", "lawyer"), ("程序员", "programmer"), ("产品经理", "product manager"), ("销售经理", "sales manager"),
    ("数据分析师", "data analyst"), ("项目经理", "project manager"), ("市场专员", "marketing specialist"),
    ("人力资源经理", "human resources manager")]]
FREELANCE = [Word(*w) for w in [("作家", "writer"), ("画家", "painter"), ("摄影师", "photographer"),
                                ("译者", "translator"), ("音乐人", "musician")]]
FOUNDER = Word("企业家", "entrepreneur")

HOBBIES = [Word(*w) for w in [
    ("爬山", "hiking"), ("下棋", "playing chess"), ("游泳", "swimming"), ("摄影", "photography"), ("跑步", "running"),
    ("弹钢琴", "playing the piano"), ("读书", "reading"), ("做饭", "cooking"), ("钓鱼", "fishing"),
    ("骑自行车", "cycling"), ("打篮球", "playing basketball"), ("练书法", "calligraphy"), ("养花", "gardening"),
    ("唱歌", "singing")]]


@dataclass(frozen=True)
class Industry:
    """An industry: its Chinese word, the English word in company names and the adjective."""
    zh: str
    en_name: str
    en: str                     # "electronics" as in "an electronics company", "the electronics industry"
    article: str
    products: tuple[str, ...]   # keys of CATEGORIES this industry makes

    def en_a(self) -> tuple[str, str]:
        return self.article + " ", self.en


INDUSTRIES = [
    Industry("电子", "Electronics", "electronics", "an", ("smartphone", "tablet", "smartwatch", "earbuds", "camera")),
    Industry("科技", "Technology", "technology", "a", ("laptop", "speaker", "vacuum", "drone")),
    Industry("软件", "Software", "software", "a", ("office", "translator", "antivirus")),
    Industry("汽车", "Motors", "automotive", "an", ("ev", "suv")),
    Industry("医药", "Pharmaceuticals", "pharmaceutical", "a", ()),
    Industry("食品", "Foods", "food", "a", ()),
    Industry("能源", "Energy", "energy", "an", ()),
    Industry("物流", "Logistics", "logistics", "a", ()),
    Industry("传媒", "Media", "media", "a", ()),
]

# Product categories with a plausible price range in yuan.
CATEGORIES = {
    "smartphone": (Word("智能手机", "smartphone"), (999, 6999)),
    "tablet": (Word("平板电脑", "tablet"), (1299, 5999)),
    "smartwatch": (Word("智能手表", "smartwatch"), (399, 2999)),
    "earbuds": (Word("无线耳机", "wireless earbuds", "a pair of"), (99, 1499)),
    "camera": (Word("数码相机", "digital camera"), (1999, 12999)),
    "laptop": (Word("笔记本电脑", "laptop"), (2999, 12999)),
    "speaker": (Word("智能音箱", "smart speaker"), (199, 999)),
    "vacuum": (Word("扫地机器人", "robot vacuum"), (999, 4999)),
    "drone": (Word("无人机", "drone"), (1499, 9999)),
    "office": (Word("办公软件", "office suite", "an"), (99, 899)),
    "translator": (Word("翻译软件", "translation app"), (49, 399)),
    "antivirus": (Word("杀毒软件", "antivirus program", "an"), (49, 299)),
    "ev": (Word("电动汽车", "electric car", "an"), (89900, 359900)),
    "suv": (Word("越野车", "SUV", "an"), (129900, 499900)),
}

# Faker's lists, filtered to the names the tables above can spell in both languages.
ZH_SURNAMES = [(s, w) for s, w in _ZhPerson.last_names.items() if s in SURNAME_PINYIN]
ZH_GIVEN_MALE = [g for g in _ZhPerson.first_names_male if all(c in GIVEN_PINYIN for c in g)]
ZH_GIVEN_FEMALE = [g for g in _ZhPerson.first_names_female if all(c in GIVEN_PINYIN for c in g)]
EN_FIRST_MALE = [n for n in _EnPerson.first_names_male if n in EN_MALE]
EN_FIRST_FEMALE = [n for n in _EnPerson.first_names_female if n in EN_FEMALE]
EN_SURNAMES = [n for n in _EnPerson.last_names if n in EN_LAST]
BRANDS = [b for b in _ZhCompany.company_prefixes if b in BRAND_PINYIN]
BRANDS += [b for b in BRAND_PINYIN if b not in BRANDS]
BRANDS = list(dict.fromkeys(BRANDS))


def pinyin_given(given: str) -> str:
    """'建华' -> 'Jianhua'."""
    return "".join(GIVEN_PINYIN[c] for c in given).capitalize()
