#!/usr/bin/python3
"""Baselines for bench_tokenizer, run by it with Debian's /usr/bin/python3.

    tokenizer_baseline.py spm MODEL_FILE CORPUS_JSON   # python3-sentencepiece (C++ library)
    tokenizer_baseline.py bpe TOKENIZER_JSON CORPUS_JSON  # pure-Python byte-level BPE

CORPUS_JSON is a JSON list of documents; each is encoded on its own (no BOS/EOS). Prints one
JSON object: seconds of the first pass (cold caches) and of a second pass, bytes, token count
and a checksum of the ids, so that the benchmark can check that both sides agree.

The pure-Python BPE is a faithful reference of Hugging Face's byte-level BPE for the files we
use (GPT-2, Qwen2/3): added tokens split out longest first, NFC when the file says so, the
pre-tokenizer regexes (python3-regex, which has \\p{L}), the GPT-2 byte-to-unicode map, and
merges by rank with a per-word cache, as in OpenAI's gpt-2 encoder.py.
"""
import json
import sys
import time
import unicodedata


def checksum(h, ids):
    for i in ids:
        h = (h * 1000003 + i) % 2305843009213693951  # 2^61 - 1
    return h


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class PythonBpe:
    def __init__(self, path):
        import regex
        spec = json.load(open(path, encoding="utf-8"))
        model = spec["model"]
        self.encoder = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {}
        for i, m in enumerate(merges):
            self.ranks.setdefault(m, i)
        self.ignore_merges = bool(model.get("ignore_merges"))
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}
        added = sorted(spec.get("added_tokens") or [], key=lambda t: -len(t["content"]))
        self.added = {t["content"]: t["id"] for t in added}
        self.added_re = (regex.compile("|".join(regex.escape(t["content"]) for t in added))
                         if added else None)
        norm = spec.get("normalizer")
        norms = (norm.get("normalizers", []) if norm and norm["type"] == "Sequence"
                 else [norm] if norm else [])
        self.nfc = any(n["type"] == "NFC" for n in norms)
        pre = spec["pre_tokenizer"]
        pres = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
        self.splits = []
        for p in pres:
            if p["type"] == "Split":
                self.splits.append(regex.compile(p["pattern"]["Regex"]))
            elif p["type"] == "ByteLevel" and p.get("use_regex", True):
                self.splits.append(regex.compile(GPT2_PATTERN))

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        if self.ignore_merges and token in self.encoder:
            self.cache[token] = [self.encoder[token]]
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            best = None
            for i in range(len(word) - 1):
                r = self.ranks.get((word[i], word[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            first, second = word[best[1]], word[best[1] + 1]
            merged, i = [], 0
            while i < len(word):  # merge every occurrence, left to right (encoder.py)
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = [self.encoder[w] for w in word]
        self.cache[token] = ids
        return ids

    def pieces(self, text, level=0):
        if level == len(self.splits):
            yield text
            return
        pos = 0
        for m in self.splits[level].finditer(text):
            if m.start() > pos:
                yield from self.pieces(text[pos:m.start()], level + 1)
            if m.end() > m.start():
                yield from self.pieces(m.group(), level + 1)
            pos = m.end()
        if pos < len(text):
            yield from self.pieces(text[pos:], level + 1)

    def encode_segment(self, text, out):
        if not text:
            return
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        for piece in self.pieces(text):
            out.extend(self.bpe("".join(self.byte_encoder[b] for b in piece.encode("utf-8"))))

    def encode(self, text):
        out, pos = [], 0
        if self.added_re is not None:
            for m in self.added_re.finditer(text):
                self.encode_segment(text[pos:m.start()], out)
                out.append(self.added[m.group()])
                pos = m.end()
        self.encode_segment(text[pos:], out)
        return out


def main():
    kind, path, corpus_path = sys.argv[1:4]
    docs = json.load(open(corpus_path, encoding="utf-8"))
    if kind == "spm":
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor(model_file=path)
        encode = sp.encode
    elif kind == "bpe":
        encode = PythonBpe(path).encode
    else:
        sys.exit("unknown kind " + kind)
    result = {"bytes": sum(len(d.encode("utf-8")) for d in docs)}
    for name in ("first_pass_s", "second_pass_s"):
        start = time.perf_counter()
        all_ids = [encode(d) for d in docs]
        result[name] = time.perf_counter() - start
    h = 0
    for ids in all_ids:  # outside the timed loop
        h = checksum(h, ids)
    result["tokens"] = sum(len(ids) for ids in all_ids)
    result["checksum"] = h
    print(json.dumps(result))


if __name__ == "__main__":
    main()
