// Byte-level BPE (tokenizer.json) on small hand-made files whose ids are worked out by hand,
// the NFC normalizer against Python's unicodedata, the character tokenizer, and the errors for
// bad tokenizer.json / tokenizer_config.json files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/tokenizer.h"
#include "model/tokenizer_nfc.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

using ::ponder::testing::ReadFile;
using ::ponder::testing::SourcePath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// The GPT-2 byte-level alphabet, written out from its definition: printable Latin-1 bytes
// ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for themselves; the other bytes, in order, become
// U+0100, U+0101, ...
std::string ByteChar(int b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int next = 0;
    for (int i = 0; i < 256; ++i) {
      bool printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE;
      char32_t cp = printable ? i : 0x100 + next++;
      std::string s;
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      t[i] = s;
    }
    return t;
  }();
  return table[b];
}

// A tokenizer.json with ids 0..255 for the bytes (id = byte value), then these tokens:
//   256 "bc"   (merge rank 0: b c)
//   257 "ab"   (merge rank 1: a b)
//   258 "abc"  (merge rank 2: a bc)
//   259 "Ġa"   (merge rank 3: Ġ a)  — "Ġ" is the byte-level spelling of the space byte
//   260 "abd"  (no merge makes it: only reachable with ignore_merges)
// and added tokens 261 "<|x|>" (special) and 262 "<think>" (not special).
Json TinyTokenizerJson() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  vocab["bc"] = 256;
  vocab["ab"] = 257;
  vocab["abc"] = 258;
  vocab[ByteChar(' ') + "a"] = 259;
  vocab["abd"] = 260;
  Json j;
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab},
                {"merges", {"b c", "a b", "a bc", ByteChar(' ') + " a"}},
                {"ignore_merges", false}};
  j["added_tokens"] = {
      {{"id", 261}, {"content", "<|x|>"}, {"special", true}, {"lstrip", false}},
      {{"id", 262}, {"content", "<think>"}, {"special", false}},
  };
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  return j;
}

// Writes `files` (name -> content) into a fresh folder and returns its path.
std::string WriteFolder(const std::string& name, const std::map<std::string, std::string>& files) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& [file, content] : files) std::ofstream(dir / file) << content;
  return dir.string();
}

std::unique_ptr<Tokenizer> LoadJson(const std::string& name, const Json& j,
                                    const std::string& config = "") {
  std::map<std::string, std::string> files = {{"tokenizer.json", j.dump()}};
  if (!config.empty()) files["tokenizer_config.json"] = config;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(WriteFolder(name, files));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(*tok) : nullptr;
}

absl::Status LoadError(const std::string& name, const Json& j, const std::string& config = "",
                       std::string* path = nullptr) {
  std::map<std::string, std::string> files = {{"tokenizer.json", j.dump()}};
  if (!config.empty()) files["tokenizer_config.json"] = config;
  std::string dir = WriteFolder(name, files);
  if (path != nullptr) *path = dir + "/tokenizer.json";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(dir);
  EXPECT_FALSE(tok.ok());
  return tok.status();
}

TEST(BpeTest, MergesByRankLowestFirst) {
  auto tok = LoadJson("tiny", TinyTokenizerJson());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 263);
  // "abc": (b,c) has rank 0 and goes first, then (a,bc) rank 2 -> one token.
  EXPECT_THAT(*tok->Encode("abc"), ElementsAre(258));
  // "abd": (a,b) rank 1 -> ab, d; nothing merges "ab"+"d".
  EXPECT_THAT(*tok->Encode("abd"), ElementsAre(257, 'd'));
  // "abab": two (a,b) merges of the same rank, leftmost first; both apply.
  EXPECT_THAT(*tok->Encode("abab"), ElementsAre(257, 257));
  // " abc" is one pre-token (' ?\p{L}+'): Ġ a b c -> (b,c) rank 0 -> Ġ a bc -> (a,bc) rank 2
  // beats (Ġ,a) rank 3 -> Ġ abc.
  EXPECT_THAT(*tok->Encode(" abc"), ElementsAre(' ', 258));
  EXPECT_THAT(*tok->Encode(" a"), ElementsAre(259));
  // Pre-tokens do not merge across each other: "a" and "!" and " " stay apart.
  EXPECT_THAT(*tok->Encode("a!b"), ElementsAre('a', '!', 'b'));
  EXPECT_EQ(*tok->Decode({259, 256, '!'}), " abc!");
}

TEST(BpeTest, IgnoreMergesKeepsWholeVocabularyWords) {
  Json j = TinyTokenizerJson();
  j["model"]["ignore_merges"] = true;
  auto tok = LoadJson("ignore_merges", j);
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->Encode("abd"), ElementsAre(260));
  EXPECT_THAT(*tok->Encode("abdabd"), ElementsAre(257, 'd', 257, 'd'));  // not in vocab whole
}

TEST(BpeTest, AddedTokensAreSplitOutFirst) {
  auto tok = LoadJson("added", TinyTokenizerJson());
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->Encode("ab<|x|>abc<think>"), ElementsAre(257, 261, 258, 262));
  EXPECT_THAT(*tok->Encode("<|x|>", {.parse_special = false}),
              ElementsAre('<', '|', 'x', '|', '>'));
  EXPECT_TRUE(tok->IsSpecial(261));
  EXPECT_FALSE(tok->IsSpecial(262));
  EXPECT_EQ(tok->TokenToId("<think>"), 262);
  EXPECT_EQ(tok->IdToToken(259), ByteChar(' ') + "a");
  EXPECT_EQ(*tok->Decode({257, 261, 262}), "ab<|x|><think>");
  EXPECT_EQ(*tok->Decode({257, 261, 262}, {.skip_special = true}), "ab<think>");
}

TEST(BpeTest, NfcNormalizerComposesBeforeEncoding) {
  Json j = TinyTokenizerJson();
  j["normalizer"] = {{"type", "NFC"}};
  auto tok = LoadJson("nfc", j);
  ASSERT_NE(tok, nullptr);
  // "e" + U+0301 becomes U+00E9, bytes C3 A9 -> ids 0xC3, 0xA9.
  EXPECT_THAT(*tok->Encode("e\xCC\x81"), ElementsAre(0xC3, 0xA9));
  auto plain = LoadJson("no_nfc", TinyTokenizerJson());
  EXPECT_THAT(*plain->Encode("e\xCC\x81"), ElementsAre('e', 0xCC, 0x81));
}

TEST(BpeTest, SplitPreTokenizerAndSpecialTokensFromConfig) {
  Json j = TinyTokenizerJson();
  // Qwen2-style: a Split regex, then ByteLevel without its own regex. This one isolates each
  // letter, so nothing merges.
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", "\\p{L}"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  auto tok = LoadJson("split", j, R"({"bos_token": null, "eos_token": "<|x|>",
                                      "pad_token": {"content": "<think>"}})");
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->Encode("abc  "), ElementsAre('a', 'b', 'c', ' ', ' '));
  EXPECT_EQ(tok->bos_id(), std::nullopt);
  EXPECT_EQ(tok->eos_id(), 261);
  EXPECT_EQ(tok->pad_id(), 262);
  EXPECT_THAT(*tok->Encode("a", {.add_bos = true, .add_eos = true}), ElementsAre('a', 261));
}

TEST(BpeTest, LongPreTokensEncode) {
  // A megabyte-long run of spaces or of letters is one pre-token: the regex must not run out of
  // stack and the merge loop must stay fast (it is O(n log n)).
  auto tok = LoadJson("long", TinyTokenizerJson());
  ASSERT_NE(tok, nullptr);
  absl::StatusOr<std::vector<int32_t>> spaces = tok->Encode(std::string(1 << 20, ' ') + "x");
  ASSERT_TRUE(spaces.ok()) << spaces.status();
  EXPECT_EQ(spaces->size(), (1u << 20) + 1);
  std::string letters;
  for (int i = 0; i < (1 << 18); ++i) letters += "abc";
  absl::StatusOr<std::vector<int32_t>> merged = tok->Encode(letters);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->size(), 1u << 18);
  EXPECT_EQ(merged->front(), 258);
}

TEST(BpeTest, AddPrefixSpace) {
  Json j = TinyTokenizerJson();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  auto tok = LoadJson("prefix_space", j);
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->Encode("a"), ElementsAre(259));
}

TEST(BadTokenizerJsonTest, ErrorsNameTheFileAndField) {
  std::string path;
  absl::Status s = LoadError("json_null", Json(), "", &path);
  EXPECT_THAT(s.message(), HasSubstr(path + ": the top level is not a JSON object"));
  {
    std::string dir = WriteFolder("not_json", {{"tokenizer.json", "{\"model\": [1,"}});
    s = LoadTokenizer(dir).status();
    EXPECT_THAT(s.message(), HasSubstr(dir + "/tokenizer.json: not valid JSON"));
  }
  Json j = TinyTokenizerJson();
  j["model"]["type"] = "WordPiece";
  s = LoadError("wordpiece", j, "", &path);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr(path + ": model.type 'WordPiece' is not supported"));

  j = TinyTokenizerJson();
  j["model"]["merges"].push_back("a zz");
  s = LoadError("bad_merge", j, "", &path);
  EXPECT_THAT(s.message(),
              HasSubstr(path + ": model.merges[4] 'a zz': 'zz' is not in model.vocab"));

  j = TinyTokenizerJson();
  j["model"]["merges"].push_back("abc");
  s = LoadError("merge_no_space", j, "", &path);
  EXPECT_THAT(s.message(),
              HasSubstr("model.merges[4] 'abc' is not two tokens separated by one space"));

  j = TinyTokenizerJson();
  j["model"]["vocab"].erase(ByteChar(0x0A));
  s = LoadError("missing_byte", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr(path + ": model.vocab has no token for byte 0x0A"));

  j = TinyTokenizerJson();
  j["model"]["vocab"]["x\xE2\x82\xAC"] = 300;  // € (U+20AC) is not a byte-level character
  s = LoadError("not_byte_level", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("model.vocab token 'x\xE2\x82\xAC' (id 300) is not spelled in "
                                     "the byte-level alphabet"));

  j = TinyTokenizerJson();
  j["model"]["vocab"]["zz"] = 5;
  s = LoadError("duplicate_id", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("model.vocab gives id 5 to both"));

  j = TinyTokenizerJson();
  j["added_tokens"][0]["lstrip"] = true;
  s = LoadError("lstrip", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("added_tokens[0] ('<|x|>') sets lstrip"));

  j = TinyTokenizerJson();
  j["added_tokens"][1]["id"] = 256;
  s = LoadError("added_clash", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("added_tokens[1] gives id 256 to '<think>', which "
                                     "model.vocab gives to 'bc'"));

  j = TinyTokenizerJson();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  s = LoadError("metaspace", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr(path + ": pre_tokenizer: pre-tokenizer 'Metaspace' is not "
                                            "supported"));

  j = TinyTokenizerJson();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "(\\p{L}"}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  s = LoadError("bad_regex", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr(path + ": pre_tokenizer.pretokenizers[0]: pre-tokenizer "
                                            "regex '(\\p{L}' does not compile"));

  j = TinyTokenizerJson();
  j["normalizer"] = {{"type", "Lowercase"}};
  s = LoadError("lowercase", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("normalizer 'Lowercase' is not supported"));

  j = TinyTokenizerJson();
  j["model"]["byte_fallback"] = true;
  s = LoadError("byte_fallback", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr("model.byte_fallback"));

  j = TinyTokenizerJson();
  j.erase("model");
  s = LoadError("no_model", j, "", &path);
  EXPECT_THAT(s.message(), HasSubstr(path + ": model is missing"));

  std::string config_dir;
  s = LoadError("bad_config", TinyTokenizerJson(), R"({"eos_token": "<|nope|>"})", &config_dir);
  EXPECT_THAT(s.message(), HasSubstr("tokenizer_config.json: eos_token '<|nope|>' is not a token"));
  s = LoadError("bad_config2", TinyTokenizerJson(), R"({"eos_token": 7})");
  EXPECT_THAT(s.message(), HasSubstr("eos_token is neither a token string nor"));
}

TEST(NfcTest, MatchesPythonUnicodedata) {
  Json data = Json::parse(ReadFile(SourcePath("tests/data/tokenizer/nfc_cases.json")));
  size_t changed = 0;
  for (const Json& c : data["cases"]) {
    std::string in = c[0], expected = c[1];
    std::string out;
    nfc::Normalize(in, &out);
    EXPECT_EQ(out, expected) << "input: " << in;
    // MayChange may say yes when nothing changes, never no when something does.
    if (expected != in) {
      EXPECT_TRUE(nfc::MayChange(in)) << "input: " << in;
      ++changed;
    }
  }
  EXPECT_GT(changed, 500u);
  EXPECT_FALSE(nfc::MayChange("plain ASCII, Latin-1 \xC3\xA9 and \xE4\xBD\xA0\xE5\xA5\xBD"));
}

TEST(CharTokenizerTest, EncodesTheBuiltinTaskAlphabet) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer("chars:0123456789+-*()=,>:");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 3 + 19);
  // <pad> 0, <bos> 1, <eos> 2, then '0'..'9' are 3..12, '+' 13, '-' 14, '*' 15, '(' 16,
  // ')' 17, '=' 18, ',' 19, '>' 20, ':' 21.
  EXPECT_THAT(*(*tok)->Encode("12+3=", {.add_bos = true}), ElementsAre(1, 4, 5, 13, 6, 18));
  EXPECT_THAT(*(*tok)->Encode("(9)<eos>"), ElementsAre(16, 12, 17, 2));
  EXPECT_EQ(*(*tok)->Decode({1, 4, 5, 13, 2}, {.skip_special = true}), "12+");
  EXPECT_EQ(*(*tok)->Decode({4, 2}), "1<eos>");
  EXPECT_EQ((*tok)->pad_id(), 0);

  absl::StatusOr<std::vector<int32_t>> bad = (*tok)->Encode("1+x");
  EXPECT_THAT(bad.status().message(),
              HasSubstr("character 'x' (U+0078) at byte 2 is not in the character vocabulary"));
  EXPECT_THAT(LoadTokenizer("chars:abca").status().message(),
              HasSubstr("the character vocabulary repeats 'a'"));
  EXPECT_THAT(LoadTokenizer("chars:").status().message(), HasSubstr("is empty"));
}

}  // namespace
}  // namespace ponder::model
