// The reference encodings of llama.cpp's tokenizer tests (47 tricky strings, ids produced by
// Hugging Face tokenizers with add_special_tokens=False): our tokenizers must give exactly the
// same ids, and decoding must give back the text. One driver; the cases are data
// (tests/data/tokenizer/reference/llama_cpp_vocab_tests.json).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/tokenizer.h"
#include "tests/testing.h"

namespace ponder::model {
namespace {

using ::ponder::testing::ReadFile;
using ::ponder::testing::SourcePath;

std::string Data(const std::string& name) { return SourcePath("tests/data/tokenizer/" + name); }

// Decompresses tests/data/tokenizer/<dir>/<name>.gz (with the other files of <dir>) into a
// temporary folder and returns the path of the decompressed file.
std::string Unpack(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path out_dir = fs::path(::testing::TempDir()) / ("tokenizer_" + dir);
  fs::create_directories(out_dir);
  for (const auto& entry : fs::directory_iterator(Data(dir))) {
    fs::path target = out_dir / entry.path().filename();
    if (entry.path().extension() != ".gz") {
      fs::copy_file(entry.path(), target, fs::copy_options::overwrite_existing);
      continue;
    }
    target.replace_extension();  // drop .gz
    gzFile in = gzopen(entry.path().c_str(), "rb");
    EXPECT_NE(in, nullptr) << entry.path();
    std::ofstream out(target, std::ios::binary);
    char buffer[1 << 16];
    int n;
    while ((n = gzread(in, buffer, sizeof(buffer))) > 0) out.write(buffer, n);
    gzclose(in);
  }
  return (out_dir / name).string();
}

struct ReferenceCase {
  const char* reference_name;  // key in the reference file
  const char* dir;
  const char* file;
};

void PrintTo(const ReferenceCase& c, std::ostream* os) { *os << c.reference_name; }

class ReferenceEncodingTest : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(ReferenceEncodingTest, MatchesReferenceIdsAndRoundTrips) {
  const ReferenceCase& c = GetParam();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(Unpack(c.dir, c.file));
  ASSERT_TRUE(tok.ok()) << tok.status();
  nlohmann::json ref =
      nlohmann::json::parse(ReadFile(Data("reference/llama_cpp_vocab_tests.json")));
  const nlohmann::json& texts = ref["texts"];
  const nlohmann::json& expected_ids = ref["ids"][c.reference_name]["ids"];
  ASSERT_EQ(texts.size(), 47u);
  ASSERT_EQ(expected_ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string text = texts[i];
    std::vector<int32_t> expected = expected_ids[i];
    SCOPED_TRACE(::testing::Message() << "case " << i << ": '" << text << "'");
    absl::StatusOr<std::vector<int32_t>> ids = (*tok)->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected);

    absl::StatusOr<std::string> decoded = (*tok)->Decode(*ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);

    StreamDecoder stream(**tok);
    std::string streamed;
    for (int32_t id : *ids) ASSERT_TRUE(stream.Push(id, &streamed).ok());
    stream.Finish(&streamed);
    EXPECT_EQ(streamed, text);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ReferenceEncodingTest,
                         ::testing::Values(ReferenceCase{"gpt-2", "gpt2", "tokenizer.json"},
                                           ReferenceCase{"qwen2", "qwen3", "tokenizer.json"},
                                           ReferenceCase{"llama-spm", "llama2", "tokenizer.model"}),
                         [](const ::testing::TestParamInfo<ReferenceCase>& info) {
                           std::string name = info.param.reference_name;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ponder::model
