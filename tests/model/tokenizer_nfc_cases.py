#!/usr/bin/python3
"""Writes tests/data/tokenizer/nfc_cases.json: strings and their NFC form computed by Python's
unicodedata, independent of our C++ normalizer. Hand-picked cases, then seeded random strings
drawn from characters that decompose, combine or compose.

    /usr/bin/python3 tests/model/tokenizer_nfc_cases.py > tests/data/tokenizer/nfc_cases.json
"""
import json
import random
import unicodedata

hand = [
    "e\u0301",                # e + acute -> é
    "\u212B",                 # ANGSTROM SIGN -> Å (singleton)
    "\u2126",                 # OHM SIGN -> Ω
    "\u1E0B\u0323",           # ḋ + dot below: reordered, then composed -> ḍ̇
    "q\u0307\u0323",          # no composite: reordered only
    "a\u0328\u0301",          # ą́ (ogonek class 202 before acute 230)
    "\u1100\u1161\u11A8",     # Hangul jamo L V T -> 각
    "\uAC00\u11A8",           # Hangul LV + T -> 각
    "\u0958",                 # composition exclusion: stays decomposed
    "\u0344",                 # non-starter decomposition
    "A\u030A\u0301",          # Å then acute stays separate -> Ǻ
    "\u00C5\u0301",
    "Äpfel und A\u0308pfel",
    "\u0301abc",              # leading combining mark
    "ﬁ ① ｶ",                  # compatibility characters are untouched by NFC
]
marks = [cp for cp in range(0x300, 0x370)] + [0x0323, 0x0328, 0x0327, 0x093C, 0x05B0, 0x0670]
bases = list("aeiouAEIOUnNcCsSzZyY") + ["\u0915", "\u05D0", "\u03B1", "\u0430", "\u1100",
                                        "\u1161", "\u11A8", "\uAC00", "\u3042", "\u3099"]
composed = [chr(cp) for cp in range(0xC0, 0x250) if unicodedata.decomposition(chr(cp))
            and not unicodedata.decomposition(chr(cp)).startswith("<")]
rng = random.Random(1)
cases = [(s, unicodedata.normalize("NFC", s)) for s in hand]
for _ in range(3000):
    parts = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.4:
            parts.append(rng.choice(bases))
        elif r < 0.75:
            parts.append(chr(rng.choice(marks)))
        else:
            parts.append(rng.choice(composed))
    s = "".join(parts)
    cases.append((s, unicodedata.normalize("NFC", s)))
print(json.dumps({"unicode_version": unicodedata.unidata_version,
                  "cases": [[s, n] for s, n in cases]}, ensure_ascii=False, indent=0))
