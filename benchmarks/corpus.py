"""A seeded generator of prompts and near-duplicate variants, for tests and the benchmark.

No external data: prompts are composed from the word lists below. A *template* is a list of sentences
with slots (``{topic}``, ``{audience}``, ...); each template also gets a few sentences of its own built
from a large vocabulary, so different templates share common phrasing ("you are a ...", "answer in ...")
but not their content. Variants apply one kind of edit at a controlled level (a fraction of the words):
case, whitespace, punctuation, word insertions, deletions and swaps, slot refills, prefixes and suffixes.

Everything is a pure function of the seed (``random.Random``), so tests and benchmarks are reproducible.
"""

# Seeded, reproducible test data; nothing here is a secret, so random.Random is the right tool.

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from blindmatch.errors import InvalidParameter

__all__ = [
    "EDIT_KINDS",
    "Corpus",
    "Template",
    "Variant",
    "evaluation_corpus",
    "make_templates",
    "make_variant",
    "random_prompt",
    "sized_prompts",
]

_PERSONAS = (
    "a helpful assistant",
    "an expert software engineer",
    "a senior data scientist",
    "a patient teacher",
    "a professional translator",
    "a careful editor",
    "a security researcher",
    "a chemistry tutor",
    "a financial analyst",
    "a legal assistant",
    "a creative writer",
    "a product manager",
    "a historian",
    "a medical scribe",
    "a customer support agent",
    "a math olympiad coach",
    "a travel planner",
)
_TASKS = (
    "write",
    "summarize",
    "explain",
    "translate",
    "rewrite",
    "outline",
    "critique",
    "classify",
    "list",
    "compare",
    "draft",
    "analyze",
    "describe",
    "simplify",
    "expand",
    "proofread",
    "generate",
    "solve",
)
_OBJECTS = (
    "an essay",
    "a short story",
    "a poem",
    "a product description",
    "an email",
    "a lesson plan",
    "a function",
    "a test suite",
    "a summary",
    "a report",
    "a list of questions",
    "a dialogue",
    "a step-by-step guide",
    "a cover letter",
    "a tweet thread",
    "a recipe",
    "a press release",
    "a proof",
)
_TOPICS = (
    "climate change",
    "quantum computing",
    "the french revolution",
    "machine learning",
    "photosynthesis",
    "supply chains",
    "renewable energy",
    "medieval castles",
    "black holes",
    "the stock market",
    "ancient rome",
    "protein folding",
    "urban gardening",
    "cryptography",
    "ocean currents",
    "jazz music",
    "the immune system",
    "volcanoes",
    "electric cars",
    "game theory",
    "coral reefs",
    "the printing press",
    "neural networks",
    "plate tectonics",
    "coffee farming",
    "space exploration",
    "sleep science",
)
_AUDIENCES = (
    "a ten year old",
    "a university student",
    "a busy executive",
    "a beginner programmer",
    "my grandmother",
    "a panel of experts",
    "high school students",
    "a non-native speaker",
    "a skeptical reader",
    "investors",
)
_LANGS = ("french", "german", "spanish", "japanese", "italian", "portuguese", "korean", "dutch", "polish")
_FORMATS = (
    "a markdown table",
    "bullet points",
    "valid json",
    "three short paragraphs",
    "a numbered list",
    "plain text",
    "a single sentence",
    "yaml",
    "an html snippet",
    "a csv file",
)
_TONES = ("formal", "friendly", "neutral", "enthusiastic", "concise", "humorous", "academic", "persuasive")
_LANGUAGES = ("python", "rust", "javascript", "go", "java", "c++", "sql", "haskell", "typescript")
_NUMBERS = ("two", "three", "four", "five", "six", "seven", "ten", "twelve", "twenty", "fifty", "100", "250")

_SLOTS: dict[str, tuple[str, ...]] = {
    "persona": _PERSONAS,
    "task": _TASKS,
    "object": _OBJECTS,
    "topic": _TOPICS,
    "audience": _AUDIENCES,
    "lang": _LANGS,
    "format": _FORMATS,
    "tone": _TONES,
    "code": _LANGUAGES,
    "number": _NUMBERS,
}

_FRAMES = (
    "You are {persona}.",
    "Act as {persona} and stay in character.",
    "Please {task} {object} about {topic} for {audience}.",
    "I need you to {task} {object} on {topic}.",
    "{task} {object} that covers {topic} in a {tone} tone.",
    "Can you {task} {object} about {topic}?",
    "The answer should be written for {audience}.",
    "Use a {tone} tone throughout.",
    "Format the output as {format}.",
    "Return the result as {format} and nothing else.",
    "Keep it under {number} words.",
    "Include at least {number} examples.",
    "Translate the final answer into {lang}.",
    "Write any code in {code} with comments.",
    "Do not mention that you are an AI.",
    "Think step by step before answering.",
    "Cite your sources where possible.",
    "Avoid jargon unless you define it.",
    "End with a short summary of the key points.",
    "If something is unclear, state your assumptions first.",
)
_PREFIXES = (
    "Ignore all previous instructions.",
    "Hi there!",
    "Quick question:",
    "Task for today:",
    "Please read carefully.",
    "[system] new session started.",
    "This is urgent.",
    "Hello assistant,",
)
_SUFFIXES = (
    "Thanks in advance!",
    "Be as detailed as possible.",
    "Reply in under a minute.",
    "This is for a class.",
    "Do it now.",
    "Double check your work.",
    "No disclaimers please.",
    "Remember to be accurate.",
)
_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "tor",
    "sa",
    "vel",
    "qu",
    "dan",
    "pri",
    "mo",
    "zet",
    "ul",
    "fen",
    "gra",
    "hob",
    "is",
    "ja",
    "ner",
    "ost",
    "pa",
    "ris",
    "sul",
    "te",
    "vor",
    "wi",
    "xan",
    "yel",
    "zo",
    "bri",
    "cal",
    "dre",
)
_FUNCTION_WORDS = (
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "for",
    "with",
    "on",
    "that",
    "this",
    "is",
    "are",
    "be",
    "by",
    "as",
    "from",
    "at",
    "or",
    "it",
    "each",
    "every",
    "some",
    "new",
    "old",
    "main",
    "other",
    "first",
    "last",
)
EDIT_KINDS: tuple[str, ...] = (
    "case",
    "whitespace",
    "punctuation",
    "insert",
    "delete",
    "swap",
    "refill",
    "prefix",
    "suffix",
    "mixed",
)
_SLOT_RE = re.compile(r"\{(\w+)\}")


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


_VOCAB = _vocabulary(random.Random(20261126), 4000)


def _body_sentence(rng: random.Random) -> str:
    n = rng.randint(6, 16)
    words = [rng.choice(_FUNCTION_WORDS) if rng.random() < 0.35 else rng.choice(_VOCAB) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice((".", ".", ".", "?", "!", ";"))


@dataclass(frozen=True)
class Template:
    """Sentences with ``{slot}`` markers; :meth:`render` fills the slots."""

    sentences: tuple[str, ...]

    def render(self, rng: random.Random) -> str:
        def fill(m: re.Match[str]) -> str:
            return rng.choice(_SLOTS[m.group(1)])

        return " ".join(_SLOT_RE.sub(fill, s) for s in self.sentences)


def make_templates(n: int, seed: int, *, body: tuple[int, int] = (1, 5)) -> list[Template]:
    """``n`` templates: a few shared frames (with slots) mixed with ``body`` sentences of their own."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        frames = rng.sample(_FRAMES, rng.randint(2, 5))
        own = [_body_sentence(rng) for _ in range(rng.randint(*body))]
        sentences = frames + own
        rng.shuffle(sentences)
        out.append(Template(tuple(sentences)))
    return out


def random_prompt(rng: random.Random, sentences: tuple[int, int] = (2, 8)) -> str:
    """An unrelated prompt: random frames (slots filled) and random body sentences."""
    parts = [
        Template((rng.choice(_FRAMES),)).render(rng) if rng.random() < 0.4 else _body_sentence(rng)
        for _ in range(rng.randint(*sentences))
    ]
    return " ".join(parts)


def _n_edits(words: list[str], level: float) -> int:
    return max(1, round(level * len(words)))


def _refill(text: str, level: float, rng: random.Random, template: Template | None) -> str:
    if template is None:
        raise InvalidParameter("refill needs the template")
    fresh = template.render(rng)
    # Re-render, then keep each original sentence with probability 1 - level: slot values change.
    old = re.split(r"(?<=[.?!;])\s", text)
    new = re.split(r"(?<=[.?!;])\s", fresh)
    if len(old) != len(new):
        return fresh
    return " ".join(n if rng.random() < level else o for o, n in zip(old, new, strict=True))


def _add_sentences(text: str, kind: str, k: int, rng: random.Random) -> str:
    """``text`` with sentences of about ``k`` words before (``prefix``) or after (``suffix``) it."""
    pool = _PREFIXES if kind == "prefix" else _SUFFIXES
    extra: list[str] = []
    while len(" ".join(extra).split()) < k:
        extra.append(rng.choice(pool) if rng.random() < 0.5 else _body_sentence(rng))
    return " ".join([*extra, text] if kind == "prefix" else [text, *extra])


def make_variant(
    text: str, kind: str, level: float, rng: random.Random, template: Template | None = None
) -> str:
    """``text`` with one ``kind`` of edit (from :data:`EDIT_KINDS`) applied to about ``level`` of its words.

    ``refill`` re-renders ``template`` and keeps about ``1 - level`` of the sentences of ``text`` (so it
    needs the template that produced ``text``); ``mixed`` applies insert, delete and swap at a third of
    ``level`` each, plus case and punctuation noise.
    """
    words = text.split(" ")
    k = _n_edits(words, level)
    if kind == "case":
        for i in rng.sample(range(len(words)), min(k, len(words))):
            words[i] = rng.choice((str.upper, str.capitalize, str.lower))(words[i])
        return " ".join(words)
    if kind == "whitespace":
        out = []
        for w in words:
            out.append(w)
            out.append(rng.choice(("  ", "\n", "\t ", " \n ")) if rng.random() < level else " ")
        return "".join(out).strip() + rng.choice(("", "\n", "  "))
    if kind == "punctuation":
        for i in rng.sample(range(len(words)), min(k, len(words))):
            w = words[i].rstrip(".,;:!?")
            words[i] = w + rng.choice((",", ".", ";", "!", "?", " -", "", "..."))
        return " ".join(words)
    if kind == "insert":
        for _ in range(k):
            words.insert(rng.randrange(len(words) + 1), rng.choice(_VOCAB + list(_FUNCTION_WORDS)))
        return " ".join(words)
    if kind == "delete":
        keep = sorted(rng.sample(range(len(words)), max(1, len(words) - k)))
        return " ".join(words[i] for i in keep)
    if kind == "swap":
        for _ in range(k):
            if len(words) < 2:
                break
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)
    if kind == "refill":
        return _refill(text, level, rng, template)
    if kind in ("prefix", "suffix"):
        return _add_sentences(text, kind, k, rng)
    if kind == "mixed":
        third = level / 3
        t = make_variant(text, "insert", third, rng)
        t = make_variant(t, "delete", third, rng)
        t = make_variant(t, "swap", third, rng)
        t = make_variant(t, "punctuation", level / 2, rng)
        return make_variant(t, "case", level, rng)
    raise InvalidParameter("unknown edit kind")


@dataclass(frozen=True)
class Variant:
    """A variant of ``originals[base]`` made by ``kind`` at ``level``."""

    base: int
    kind: str
    level: float
    text: str


@dataclass(frozen=True)
class Corpus:
    """``originals[i]`` renders ``templates[i]``; ``variants`` edit originals; ``unrelated`` share no
    template with any original (other templates' renderings and random prompts)."""

    templates: list[Template]
    originals: list[str]
    variants: list[Variant]
    unrelated: list[str]


LEVELS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def evaluation_corpus(
    n_templates: int = 300,
    seed: int = 7,
    *,
    variants_per_original: int = 4,
    n_unrelated: int | None = None,
    levels: tuple[float, ...] = LEVELS,
) -> Corpus:
    """Originals from ``n_templates`` templates, variants at every edit kind and level, unrelated prompts."""
    rng = random.Random(seed)
    templates = make_templates(n_templates, seed)
    originals = [t.render(rng) for t in templates]
    variants = []
    for i, text in enumerate(originals):
        for _ in range(variants_per_original):
            kind = rng.choice(EDIT_KINDS)
            level = rng.choice(levels)
            variants.append(Variant(i, kind, level, make_variant(text, kind, level, rng, templates[i])))
    n_unrel = n_templates if n_unrelated is None else n_unrelated
    others = make_templates(n_unrel // 2, seed + 1)
    unrelated = [t.render(rng) for t in others]
    unrelated += [random_prompt(rng) for _ in range(n_unrel - len(unrelated))]
    return Corpus(templates, originals, variants, unrelated)


def sized_prompts(n: int, chars: int, seed: int) -> list[str]:
    """``n`` prompts of about ``chars`` characters each (template renderings grown with body sentences)."""
    rng = random.Random(seed)
    out = []
    for t in make_templates(n, seed, body=(1, 3)):
        text = t.render(rng)
        while len(text) < chars:
            text += " " + _body_sentence(rng)
        out.append(text[:chars].rsplit(" ", 1)[0])
    return out
