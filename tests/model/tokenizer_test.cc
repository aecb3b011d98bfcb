// Tokenizers: llama2.c tokenizer.bin and sentencepiece .model files (tok512 of stories260K),
// UTF-8 handling and the streaming decoder, and the errors for bad tokenizer files.
#include "model/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "model/tokenizer_utf8.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

using ::ponder::testing::ReadFile;
using ::ponder::testing::SourcePath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Data(const std::string& name) { return SourcePath("tests/data/tokenizer/" + name); }

std::unique_ptr<Tokenizer> Load(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(path);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(*tok) : nullptr;
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// llama2.c's own run.c encodes the prompt "Once upon a time" as these ids (recorded in
// reference_outputs.json), and its greedy generation decodes to the published text.
class Tok512Test : public ::testing::TestWithParam<const char*> {};

TEST_P(Tok512Test, EncodesThePromptLikeLlama2c) {
  auto tok = Load(Data(GetParam()));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  absl::StatusOr<std::vector<int32_t>> ids = tok->Encode("Once upon a time", {.add_bos = true});
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(1, 403, 407, 261, 378));
}

TEST_P(Tok512Test, DecodesTheGreedyGenerationToThePublishedText) {
  auto tok = Load(Data(GetParam()));
  ASSERT_NE(tok, nullptr);
  nlohmann::json ref = nlohmann::json::parse(ReadFile(Data("stories260K/reference_outputs.json")));
  std::vector<int32_t> ids = ref["derived_here"]["greedy_from_bos"]["generated_ids"];
  std::string expected = ref["published"][0]["expected_text"];
  // run.c generates 199 tokens after BOS; the list holds what it fed back, ending one early.
  absl::StatusOr<std::string> text = tok->Decode(ids);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->substr(0, expected.size()), expected);

  // Streaming gives the same text, one token at a time.
  StreamDecoder stream(*tok);
  std::string streamed;
  for (int32_t id : ids) ASSERT_TRUE(stream.Push(id, &streamed).ok());
  stream.Finish(&streamed);
  EXPECT_EQ(streamed, *text);
}

TEST_P(Tok512Test, ByteFallbackRoundTripsAnyText) {
  auto tok = Load(Data(GetParam()));
  ASSERT_NE(tok, nullptr);
  // Characters tok512 never saw fall back to byte pieces <0xNN> (ids 3..258).
  std::string text = "Lily saw a 🦙 and said \"你好\"\n\tok";
  absl::StatusOr<std::vector<int32_t>> ids = tok->Encode(text);
  ASSERT_TRUE(ids.ok()) << ids.status();
  absl::StatusOr<std::vector<int32_t>> llama = tok->Encode("🦙");
  ASSERT_TRUE(llama.ok());
  // "▁" then the four UTF-8 bytes F0 9F A6 99 as byte pieces (id = byte + 3).
  EXPECT_THAT(*llama,
              ElementsAre(*tok->TokenToId("\xE2\x96\x81"), 0xF0 + 3, 0x9F + 3, 0xA6 + 3, 0x99 + 3));
  absl::StatusOr<std::string> back = tok->Decode(*ids);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
}

INSTANTIATE_TEST_SUITE_P(Formats, Tok512Test,
                         ::testing::Values("stories260K/tok512.bin", "stories260K/tok512.model"));

TEST(Tok512Test, SentencepieceModelCollapsesExtraSpacesButLlama2cDoesNot) {
  // tok512.model keeps sentencepiece's default remove_extra_whitespaces; llama2.c's encoder
  // never removes spaces.
  auto bin = Load(Data("stories260K/tok512.bin"));
  auto spm = Load(Data("stories260K/tok512.model"));
  ASSERT_NE(bin, nullptr);
  ASSERT_NE(spm, nullptr);
  EXPECT_EQ(*spm->Encode("  a   b "), *spm->Encode("a b"));
  EXPECT_NE(*bin->Encode("  a   b "), *bin->Encode("a b"));
  EXPECT_EQ(*bin->Decode(*bin->Encode("  a   b ")), "  a   b ");
}

TEST(TokenizerTest, SpecialTokenTextBecomesItsId) {
  auto tok = Load(Data("stories260K/tok512.model"));
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->Encode("<s>a</s>"), ElementsAre(1,
                                                    *tok->TokenToId("\xE2\x96\x81"
                                                                    "a"),
                                                    2));
  std::vector<int32_t> plain = *tok->Encode("<s>", {.parse_special = false});
  EXPECT_THAT(plain, ::testing::Not(::testing::Contains(1)));
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(300));
  EXPECT_EQ(*tok->Decode({1, 403, 2}, {.skip_special = true}), "Once");
}

TEST(TokenizerTest, DecodeRejectsIdsOutsideTheVocabulary) {
  auto tok = Load(Data("stories260K/tok512.bin"));
  ASSERT_NE(tok, nullptr);
  absl::StatusOr<std::string> text = tok->Decode({403, 512});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(text.status().message(), HasSubstr("token id 512 is outside the vocabulary of 512"));
  EXPECT_FALSE(tok->Decode({-1}).ok());
}

TEST(TokenizerTest, EncodeRejectsInvalidUtf8) {
  auto tok = Load(Data("stories260K/tok512.bin"));
  ASSERT_NE(tok, nullptr);
  absl::StatusOr<std::vector<int32_t>> ids = tok->Encode("ok\xC3(");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ids.status().message(), HasSubstr("not valid UTF-8 at byte 2"));
}

TEST(StreamDecoderTest, HoldsBackPartialCharacters) {
  auto tok = Load(Data("stories260K/tok512.bin"));
  ASSERT_NE(tok, nullptr);
  // "é" is C3 A9: byte pieces 0xC3+3 and 0xA9+3.
  StreamDecoder stream(*tok);
  std::string out;
  ASSERT_TRUE(stream.Push(0xC3 + 3, &out).ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(stream.Push(0xA9 + 3, &out).ok());
  EXPECT_EQ(out, "\xC3\xA9");
  // A cut-off character at the end becomes U+FFFD.
  ASSERT_TRUE(stream.Push(0xE4 + 3, &out).ok());
  EXPECT_EQ(out, "\xC3\xA9");
  stream.Finish(&out);
  EXPECT_EQ(out, "\xC3\xA9\xEF\xBF\xBD");
  EXPECT_EQ(*tok->Decode({0xE4 + 3}), "\xEF\xBF\xBD");
}

TEST(Utf8Test, RepairsEachMaximalInvalidSubpartOnce) {
  // Cases from the Unicode standard's "U+FFFD substitution of maximal subparts" (Table 3-8).
  std::string out;
  utf8::AppendRepaired("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", true, &out);
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD"
            "d");
  out.clear();
  // Surrogates (ED A0..BF) and overlongs (C0, E0 80) are invalid byte by byte.
  utf8::AppendRepaired("\xED\xA0\x80|\xC0\xAF|\xE0\x80\xAF", true, &out);
  EXPECT_EQ(out,
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  EXPECT_EQ(utf8::AppendRepaired("ab\xF0\x9F\xA6", false, &out), 2u);
  EXPECT_EQ(out, "ab");
  EXPECT_EQ(utf8::FindInvalid("h\xC3\xA9llo"), 6u);
  EXPECT_EQ(utf8::FindInvalid("h\xC3llo"), 1u);
}

TEST(TokenizerTest, ConcurrentEncodingMatchesSequential) {
  // Tokenizers are shared by data-loader threads: per-thread scratch space and a locked cache.
  auto tok = Load(Data("stories260K/tok512.model"));
  ASSERT_NE(tok, nullptr);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    texts.push_back("Lily had " + std::to_string(i * 7919 % 1000) + " red balls and " +
                    std::string(i % 5, ' ') + "a dog named Max \xF0\x9F\x90\xB6 " +
                    std::to_string(i));
  }
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& t : texts) expected.push_back(*tok->Encode(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = w; i < texts.size(); i += (round % 2) + 1) {
          if (*tok->Encode(texts[i]) != expected[i]) ++mismatches[w];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

// --- bad files ---

TEST(BadTokenizerFileTest, Llama2cBin) {
  std::string short_file = WriteTemp("short.bin", std::string("\x01\x00", 2));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(short_file);
  EXPECT_THAT(tok.status().message(),
              HasSubstr(short_file + ": not a llama2.c tokenizer.bin: 2 bytes, too short"));

  std::string real = ReadFile(Data("stories260K/tok512.bin"));
  std::string cut = WriteTemp("cut.bin", real.substr(0, real.size() - 3));
  tok = LoadTokenizer(cut);
  EXPECT_THAT(tok.status().message(), HasSubstr(cut + ": token 511 at byte"));
  EXPECT_THAT(tok.status().message(), HasSubstr("is cut off"));

  std::string bad_len = real;
  int32_t huge = 1000;
  bad_len.replace(4 + 4, 4, reinterpret_cast<const char*>(&huge), 4);  // token 0's length
  std::string bad_len_path = WriteTemp("bad_len.bin", bad_len);
  tok = LoadTokenizer(bad_len_path);
  EXPECT_THAT(tok.status().message(),
              HasSubstr(bad_len_path + ": token 0 at byte 4 has length 1000"));

  std::string json = WriteTemp("json.bin", "{\"model\": {}}");
  tok = LoadTokenizer(json);
  EXPECT_THAT(tok.status().message(), HasSubstr(json + ": not a llama2.c tokenizer.bin"));
}

TEST(BadTokenizerFileTest, SentencepieceModel) {
  std::string garbage = WriteTemp("garbage.model", "\xFF\xFF\xFF this is not protobuf");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(garbage);
  EXPECT_THAT(tok.status().message(), HasSubstr(garbage + ": not a sentencepiece model"));

  std::string real = ReadFile(Data("stories260K/tok512.model"));
  std::string cut = WriteTemp("cut.model", real.substr(0, real.size() / 2));
  tok = LoadTokenizer(cut);
  EXPECT_THAT(tok.status().message(), HasSubstr(cut + ": not a sentencepiece model"));

  std::string empty = WriteTemp("empty.model", "");
  tok = LoadTokenizer(empty);
  EXPECT_THAT(tok.status().message(), HasSubstr(empty + ": not a sentencepiece model"));
}

TEST(BadTokenizerFileTest, MissingAndUnknownPaths) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer("/nonexistent/tokenizer.json");
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tok.status().message(), HasSubstr("'/nonexistent/tokenizer.json' does not exist"));

  std::string odd = WriteTemp("vocab.txt", "a\nb\n");
  tok = LoadTokenizer(odd);
  EXPECT_THAT(tok.status().message(), HasSubstr("cannot tell the tokenizer format of '" + odd));

  std::string dir = ::testing::TempDir() + "empty_model_dir";
  std::filesystem::create_directories(dir);
  tok = LoadTokenizer(dir);
  EXPECT_THAT(tok.status().message(), HasSubstr("no tokenizer in folder '" + dir));
}

}  // namespace
}  // namespace ponder::model
