"""The query sets of eval/text.py, as plain texts a user would send.

Sources (read in place from ../shared/evaldata, never copied): FLORES-200
devtest documents (the bank is the Arabic side; translations are positives,
held-out documents same-domain negatives), NTREX-128 news articles
(negatives; a third of the articles is the shipped background corpus and is
never used here), LASER Tatoeba sentences (chatter), and the templates of
eval/text_chatter.py.  Everything is split by document: tuning = even FLORES
documents and NTREX articles with number % 3 == 0, reporting = odd FLORES
documents and NTREX articles % 3 == 1.

Sets:
- ``documents``: whole translated documents; negatives are held-out FLORES
  documents and 3/6/12-sentence windows of news articles;
- ``chatty-1/2/3``: 1, 2 or 3 consecutive translated bank sentences inside
  first-person chatter with emoji, greetings and asides; negatives are the
  same chatter around 1-3 news sentences, and chatter alone;
- ``same-topic``: for each bank document, the news windows and held-out
  FLORES documents closest to it by TF-IDF over the English side (shared
  entities and keywords), in every query language;
- ``disguise-*``: the document positives with mixed-script look-alikes,
  letter spacing across emoji and punctuation, invisible characters inside
  every word, or all three;
- ``retold``: the document positives reordered, one sentence dropped and two
  merged (a simulated retelling: same facts, other order; the hand-written
  held-out set has real retellings in other words).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from text_chatter import CHATTER, EMOJI, TATOEBA_CODE

# FLORES code -> NTREX code for the query languages (arz has no NTREX file: MSA news stands in).
QUERY_LANGS = {"rus_Cyrl": "rus", "kaz_Cyrl": "kaz", "uzn_Latn": "uzb", "tgk_Cyrl": "tgk-Cyrl", "kir_Cyrl": "kir",
               "tuk_Latn": "tuk", "azj_Latn": "aze-Latn", "tat_Cyrl": "tat", "arz_Arab": "arb"}
NEWS_WINDOWS = ((3, 3), (6, 3), (12, 6))  # (sentences, stride) of the news negatives


@dataclass(frozen=True)
class Query:
    split: str  # "tune" or "report"
    set: str  # "documents", "chatty-2", "same-topic", "disguise-mixed-script", ...
    lang: str  # FLORES code of the query language
    gold: int | None  # the bank document a positive comes from; None for negatives
    text: str
    source: str = ""  # kind of negative: "flores", "news", "chatter", ...


def lines(path: Path) -> list[str]:
    return [t.strip() for t in path.read_text(encoding="utf-8").splitlines()]


def split_of(doc: int) -> str:
    return "tune" if doc % 2 == 0 else "report"


def in_bank(doc: int) -> bool:
    # Every fourth document pair stays out of the bank: its translations are negatives.
    return (doc // 2) % 4 != 3


def news_role(article: int) -> str:
    """NTREX articles: a third each for tuning, reporting and the shipped background corpus."""
    return ("tune", "report", "background")[article % 3]


class Corpus:
    """The evaluation data, grouped into documents, with the file of each language read once."""

    def __init__(self, data: Path, smoke: bool = False) -> None:
        self.data = data
        urls = [row.split("\t")[0] for row in lines(data / "flores200-devtest" / "metadata_devtest.tsv")[1:]]
        docs: dict[str, list[int]] = {}
        for i, url in enumerate(urls):
            docs.setdefault(url, []).append(i)
        self.flores_docs = list(docs.values())[: 12 if smoke else None]
        articles: dict[str, list[int]] = {}
        for i, doc in enumerate(lines(data / "ntrex128" / "DOCUMENT_IDS.tsv")):
            articles.setdefault(doc, []).append(i)
        self.news_articles = list(articles.values())[: 6 if smoke else None]
        self._files: dict[str, list[str]] = {}

    def flores(self, lang: str) -> list[str]:
        return self._read(f"flores200-devtest/{lang}.devtest")

    def news(self, code: str) -> list[str]:
        return self._read(f"ntrex128/newstest2019-{'src' if code == 'eng' else 'ref'}.{code}.txt")

    def tatoeba(self, code: str) -> list[str]:
        path = self.data / "laser-tatoeba" / f"tatoeba.{code}-eng.{code}"
        return self._read(f"laser-tatoeba/tatoeba.{code}-eng.{code}") if path.is_file() else []

    def _read(self, rel: str) -> list[str]:
        if rel not in self._files:
            self._files[rel] = lines(self.data / rel)
        return self._files[rel]

    def doc_text(self, lang: str, doc: int) -> list[str]:
        texts = self.flores(lang)
        return [texts[r] for r in self.flores_docs[doc]]

    def bank_docs(self) -> list[int]:
        return [d for d in range(len(self.flores_docs)) if in_bank(d)]

    def news_windows(self, article: int) -> list[list[int]]:
        rows = self.news_articles[article]
        out = []
        for size, stride in NEWS_WINDOWS:
            if len(rows) >= size:
                out += [rows[s : s + size] for s in range(0, len(rows) - size + 1, stride)]
        return out or [rows]


def join(sentences: list[str]) -> str:
    return " ".join(s for s in sentences if s)


# -- whole documents -------------------------------------------------------------------
def document_queries(corpus: Corpus, langs: list[str]) -> list[Query]:
    out = []
    for lang in langs:
        for d in range(len(corpus.flores_docs)):
            text = join(corpus.doc_text(lang, d))
            out.append(Query(split_of(d), "documents", lang, d if in_bank(d) else None, text, "" if in_bank(d) else "flores"))
        news = corpus.news(QUERY_LANGS[lang])
        for a in range(len(corpus.news_articles)):
            if news_role(a) == "background":
                continue
            for window in corpus.news_windows(a):
                out.append(Query(news_role(a), "documents", lang, None, join([news[r] for r in window]), "news"))
    return out


# -- chatter ---------------------------------------------------------------------------------
class Chatter:
    """Lines of chatter per language: the templates plus conversational Tatoeba sentences."""

    def __init__(self, corpus: Corpus, lang: str) -> None:
        t = CHATTER[lang]
        self.open, self.close = t["open"], t["close"]
        extra = [s for s in corpus.tatoeba(TATOEBA_CODE[lang]) if 8 <= len(s) <= 80] if lang in TATOEBA_CODE else []
        self.aside = t["aside"] + extra[:150]

    def post(self, rng: random.Random, content: list[str], gap_aside: bool = False) -> str:
        """``content`` sentences inside chatter: opener, asides, closer, emoji, line breaks."""
        parts: list[str] = []
        if rng.random() < 0.8:
            opener = rng.choice(self.open)
            if opener[-1] not in ".!?" and rng.random() < 0.5:
                # no punctuation: with only an emoji between, it runs into the quoted text
                parts.append(opener + " " + rng.choice(EMOJI) + " ")
            else:
                parts.append(opener + (" " + rng.choice(EMOJI) if rng.random() < 0.4 else "") + rng.choice(["\n", " "]))
        for _ in range(rng.randrange(2)):
            parts.append(rng.choice(self.aside) + rng.choice([" ", "\n", " " + rng.choice(EMOJI) + " "]))
        for n, sentence in enumerate(content):
            if n and gap_aside and rng.random() < 0.3:
                parts.append(rng.choice(self.aside) + " ")
            parts.append(sentence + rng.choice([" ", " ", "\n"]))
        for _ in range(rng.randrange(2)):
            parts.append(rng.choice(self.aside) + rng.choice([" ", " " + rng.choice(EMOJI) + " "]))
        if rng.random() < 0.7:
            parts.append(rng.choice(self.close) + " " + "".join(rng.choice(EMOJI) for _ in range(rng.randrange(1, 4))))
        return "".join(parts).strip()


def chatty_queries(corpus: Corpus, langs: list[str], per_size: int = 24, news_per_size: int = 40,
                   chatter_only: int = 20, seed: int = 13) -> list[Query]:
    """Excerpts of 1-3 bank sentences in chatter (positives); chatter around news, chatter alone (negatives)."""
    out = []
    for lang in langs:
        rng = random.Random(f"{seed}-{lang}")
        chatter = Chatter(corpus, lang)
        news = corpus.news(QUERY_LANGS[lang])
        for split in ("tune", "report"):
            articles = [a for a in range(len(corpus.news_articles)) if news_role(a) == split]
            for size in (1, 2, 3):
                docs = [d for d in corpus.bank_docs() if split_of(d) == split and len(corpus.flores_docs[d]) >= size]
                for d in rng.sample(docs, min(per_size, len(docs))):
                    sentences = corpus.doc_text(lang, d)
                    start = rng.randrange(len(sentences) - size + 1)
                    out.append(Query(split, f"chatty-{size}", lang, d,
                                     chatter.post(rng, sentences[start : start + size], gap_aside=True)))
                for _ in range(news_per_size):
                    rows = corpus.news_articles[rng.choice(articles)]
                    start = rng.randrange(max(1, len(rows) - size + 1))
                    out.append(Query(split, f"chatty-{size}", lang, None,
                                     chatter.post(rng, [news[r] for r in rows[start : start + size]]), "chatty news"))
            for _ in range(chatter_only):
                out.append(Query(split, "chatty-1", lang, None, chatter.post(rng, []) or rng.choice(chatter.aside), "chatter"))
    return out


# -- same-topic negatives --------------------------------------------------------------------
def same_topic_queries(corpus: Corpus, langs: list[str], per_doc: int = 3, chatty_share: float = 0.3,
                       seed: int = 17) -> list[Query]:
    """Per bank document, the closest news windows (1-3 sentences) and held-out documents by English TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    eng_flores, eng_news = corpus.flores("eng_Latn"), corpus.news("eng")
    units: list[tuple[str, int, list[int]]] = []  # ("news" article / "flores" doc, id, rows)
    for a, rows in enumerate(corpus.news_articles):
        if news_role(a) != "background":
            units += [("news", a, rows[s : s + size]) for size in (1, 2, 3) for s in range(0, len(rows) - size + 1, size)]
    units += [("flores", d, rows) for d, rows in enumerate(corpus.flores_docs) if not in_bank(d)]

    def english(unit) -> str:
        kind, _, rows = unit
        return join([(eng_news if kind == "news" else eng_flores)[r] for r in rows])

    bank = corpus.bank_docs()
    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    matrix = vectorizer.fit_transform([english(u) for u in units] + [join(corpus.doc_text("eng_Latn", d)) for d in bank])
    sims = (matrix[len(units):] @ matrix[: len(units)].T).toarray()
    chosen: dict[int, None] = {}
    for row in sims:
        taken_articles: set[tuple[str, int]] = set()
        for u in row.argsort()[::-1]:
            key = units[u][:2]
            if key in taken_articles or row[u] <= 0:
                continue
            taken_articles.add(key)
            chosen[int(u)] = None
            if len(taken_articles) >= per_doc:
                break
    out = []
    for lang in langs:
        rng = random.Random(f"{seed}-{lang}")
        chatter = Chatter(corpus, lang)
        news, flores = corpus.news(QUERY_LANGS[lang]), corpus.flores(lang)
        for u in chosen:
            kind, ident, rows = units[u]
            sentences = [(news if kind == "news" else flores)[r] for r in rows]
            split = news_role(ident) if kind == "news" else split_of(ident)
            text = chatter.post(rng, sentences) if rng.random() < chatty_share else join(sentences)
            out.append(Query(split, "same-topic", lang, None, text, kind))
    return out


# -- disguises -----------------------------------------------------------------------------
# Look-alikes between Cyrillic and Latin (the pairs spammers use; each looks the same in common fonts).
CYR_TO_LAT = dict(zip("аеорсухіјѕАВЕКМНОРСТХ", "aeopcyxijsABEKMHOPCTX"))
LAT_TO_CYR = {v: k for k, v in CYR_TO_LAT.items()}
# One character of each invisible or format class seen in the wild: zero-width space/joiners,
# word joiner, invisible operators, BOM, soft hyphen, Mongolian vowel separator, combining grapheme
# joiner, Khmer inherent vowel, Hangul filler, left-to-right / Arabic letter marks, a tag character,
# a variation selector.
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\u2062", "\u2063", "\u2064", "\ufeff", "\u00ad", "\u180e",
              "\u034f", "\u17b4", "\u3164", "\u200e", "\u061c", "\U000e0041", "\ufe0f", "\u115f"]
SPACERS = [" ", ".", "-", "·", "_", " . ", " 📢 ", "✅", "*"]
DISGUISES = ("mixed-script", "spaced", "invisible", "all")


def disguise(text: str, how: str, rng: random.Random) -> str:
    if how in ("mixed-script", "all"):
        latin = sum(ch.isascii() and ch.isalpha() for ch in text) > sum(ch.isalpha() for ch in text) / 2
        table = LAT_TO_CYR if latin else CYR_TO_LAT
        text = "".join(table[ch] if ch in table and rng.random() < 0.5 else ch for ch in text)
    if how in ("spaced", "all"):
        words = text.split(" ")
        long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        spacer = rng.choice(SPACERS)
        for i in rng.sample(long_words, min(2, len(long_words))):
            words[i] = spacer.join(words[i])
        text = " ".join(words)
    if how in ("invisible", "all"):
        def hide(word: str) -> str:
            if len(word) < 2:
                return word
            at = rng.randrange(1, len(word))
            return word[:at] + rng.choice(INVISIBLES) + word[at:]
        text = " ".join(hide(w) for w in text.split(" "))
    return text


def disguised_queries(positives: list[Query], seed: int = 11) -> list[Query]:
    rng = random.Random(seed)
    return [Query(q.split, f"disguise-{how}", q.lang, q.gold, disguise(q.text, how, rng))
            for how in DISGUISES for q in positives]


# -- retellings (simulated) ------------------------------------------------------------------
def retold_queries(corpus: Corpus, langs: list[str], seed: int = 23) -> list[Query]:
    """Bank documents of 3+ sentences, reordered, one sentence dropped (4+), two merged into one."""
    out = []
    for lang in langs:
        rng = random.Random(f"{seed}-{lang}")
        for d in corpus.bank_docs():
            sentences = corpus.doc_text(lang, d)
            if len(sentences) < 3:
                continue
            order = list(range(len(sentences)))
            while order == sorted(order):
                rng.shuffle(order)
            kept = [sentences[i] for i in order]
            if len(kept) >= 4:
                kept.pop(rng.randrange(len(kept)))
            at = rng.randrange(len(kept) - 1)
            kept[at : at + 2] = [kept[at].rstrip(".!?۔؟") + ", " + kept[at + 1][:1].lower() + kept[at + 1][1:]]
            out.append(Query(split_of(d), "retold", lang, d, join(kept)))
    return out
