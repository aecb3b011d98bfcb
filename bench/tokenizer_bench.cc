// bench_tokenizer: encoding throughput (MB/s of UTF-8 input) of each tokenizer beside a
// baseline measured in the same run on the same documents:
//   - sentencepiece models (LLaMA-2, tok512): Debian's python3-sentencepiece (its C++ library);
//   - byte-level BPE (GPT-2, Qwen3): a faithful pure-Python reference
//   (bench/tokenizer_baseline.py);
//   - llama2.c tok512.bin: python3-sentencepiece on the same vocabulary (tok512.model).
// The corpus is the text of tests/data (GSM8K answers, MATH-500 solutions, MBPP prompts and
// code) plus the multilingual llama.cpp tokenizer test strings; each document is encoded on
// its own. Both sides' ids are compared by count and checksum.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string Root() {
  const char* root = std::getenv("PONDER_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Decompresses `gz` into `out` (the tokenizer files are stored gzip-compressed in tests/data).
bool Gunzip(const std::string& gz, const std::string& out) {
  gzFile in = gzopen(gz.c_str(), "rb");
  if (in == nullptr) return false;
  std::ofstream file(out, std::ios::binary);
  char buffer[1 << 16];
  int n;
  while ((n = gzread(in, buffer, sizeof(buffer))) > 0) file.write(buffer, n);
  gzclose(in);
  return true;
}

void CollectStrings(const Json& j, std::string* text) {
  if (j.is_string()) {
    if (!text->empty()) text->push_back('\n');
    text->append(j.get<std::string>());
  } else if (j.is_array() || j.is_object()) {
    for (const Json& v : j) CollectStrings(v, text);
  }
}

std::vector<std::string> Corpus() {
  std::vector<std::string> docs;
  const std::string data = Root() + "/tests/data/";
  for (const char* jsonl : {"math/gsm8k_test_answers.jsonl", "math/math500_solutions.jsonl"}) {
    std::ifstream in(data + jsonl);
    for (std::string line; std::getline(in, line);) {
      std::string text;
      CollectStrings(Json::parse(line), &text);
      docs.push_back(text);
    }
  }
  for (const Json& record : Json::parse(ReadFile(data + "code/sanitized-mbpp.json"))) {
    std::string text;
    CollectStrings(record["prompt"], &text);
    CollectStrings(record["code"], &text);
    docs.push_back(text);
  }
  Json ref = Json::parse(ReadFile(data + "tokenizer/reference/llama_cpp_vocab_tests.json"));
  for (int copy = 0; copy < 20; ++copy) {
    for (const Json& t : ref["texts"]) docs.push_back(t.get<std::string>());
  }
  return docs;
}

uint64_t Checksum(uint64_t h, const std::vector<int32_t>& ids) {
  const unsigned __int128 kMod = 2305843009213693951ULL;  // 2^61 - 1
  for (int32_t id : ids) h = static_cast<uint64_t>((h * (unsigned __int128)1000003 + id) % kMod);
  return h;
}

struct Pass {
  double seconds = 0;
  size_t tokens = 0;
  uint64_t checksum = 0;
};

Pass EncodeAll(const ponder::model::Tokenizer& tok, const std::vector<std::string>& docs) {
  std::vector<std::vector<int32_t>> all(docs.size());
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < docs.size(); ++i) {
    absl::Status status = tok.EncodeTo(docs[i], {}, &all[i]);
    if (!status.ok()) {
      std::cerr << "encode failed: " << status << "\n";
      std::exit(1);
    }
  }
  Pass pass;
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& ids : all) {
    pass.tokens += ids.size();
    pass.checksum = Checksum(pass.checksum, ids);
  }
  return pass;
}

Json RunBaseline(const std::string& kind, const std::string& file, const std::string& corpus) {
  std::string cmd = "/usr/bin/python3 " + Root() + "/bench/tokenizer_baseline.py " + kind + " " +
                    file + " " + corpus;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  if (pipe == nullptr || pclose(pipe) != 0) return Json();
  return Json::parse(out, nullptr, false);
}

}  // namespace

int main() {
  fs::path tmp = fs::temp_directory_path() / "ponder_bench_tokenizer";
  fs::create_directories(tmp);
  const std::string tok_data = Root() + "/tests/data/tokenizer/";
  Gunzip(tok_data + "gpt2/tokenizer.json.gz", (tmp / "gpt2.json").string());
  Gunzip(tok_data + "qwen3/tokenizer.json.gz", (tmp / "qwen3.json").string());
  Gunzip(tok_data + "llama2/tokenizer.model.gz", (tmp / "llama2.model").string());

  std::vector<std::string> docs = Corpus();
  std::string corpus_path = (tmp / "corpus.json").string();
  std::ofstream(corpus_path) << Json(docs).dump();
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  std::printf(
      "corpus: %zu documents, %.2f MB (GSM8K answers, MATH-500 solutions, MBPP, "
      "multilingual test strings); one thread; MB/s of UTF-8 input\n\n",
      docs.size(), bytes / 1e6);

  struct Case {
    const char* name;
    std::string path;       // ours
    const char* kind;       // baseline kind
    std::string base_path;  // baseline's file
    const char* baseline;
    bool same_rules = true;  // whether the baseline's ids must equal ours
  };
  std::vector<Case> cases = {
      {"gpt2 (tokenizer.json)", (tmp / "gpt2.json").string(), "bpe", (tmp / "gpt2.json").string(),
       "pure-Python BPE"},
      {"qwen3 (tokenizer.json)", (tmp / "qwen3.json").string(), "bpe",
       (tmp / "qwen3.json").string(), "pure-Python BPE"},
      {"llama2 (tokenizer.model)", (tmp / "llama2.model").string(), "spm",
       (tmp / "llama2.model").string(), "python3-sentencepiece"},
      {"tok512 (tokenizer.model)", tok_data + "stories260K/tok512.model", "spm",
       tok_data + "stories260K/tok512.model", "python3-sentencepiece"},
      {"tok512 (llama2.c .bin)", tok_data + "stories260K/tok512.bin", "spm",
       tok_data + "stories260K/tok512.model", "python3-sentencepiece (.model)", false},
  };
  std::printf("%-26s %8s %10s %10s   %-31s %10s %10s  %8s  %s\n", "tokenizer", "load s",
              "ours cold", "ours warm", "baseline", "base cold", "base warm", "speedup",
              "same ids");
  for (const Case& c : cases) {
    auto load_start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<ponder::model::Tokenizer>> tok =
        ponder::model::LoadTokenizer(c.path);
    double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (!tok.ok()) {
      std::cerr << tok.status() << "\n";
      return 1;
    }
    Pass cold = EncodeAll(**tok, docs);
    Pass warm = EncodeAll(**tok, docs);
    for (int i = 0; i < 2; ++i) {
      Pass p = EncodeAll(**tok, docs);
      if (p.seconds < warm.seconds) warm = p;
    }
    Json base = RunBaseline(c.kind, c.base_path, corpus_path);
    double base_cold = base.is_object() ? bytes / base["first_pass_s"].get<double>() / 1e6 : 0;
    double base_warm = base.is_object() ? bytes / base["second_pass_s"].get<double>() / 1e6 : 0;
    bool same = base.is_object() && base["tokens"].get<size_t>() == cold.tokens &&
                base["checksum"].get<uint64_t>() == cold.checksum;
    double ours_warm = bytes / warm.seconds / 1e6;
    std::printf("%-26s %8.2f %10.1f %10.1f   %-31s %10.2f %10.2f  %7.1fx  %s (%zu tokens)\n",
                c.name, load_s, bytes / cold.seconds / 1e6, ours_warm, c.baseline, base_cold,
                base_warm, base_warm > 0 ? ours_warm / base_warm : 0.0,
                !base.is_object() ? "baseline failed"
                : same            ? "yes"
                                  : "NO",
                cold.tokens);
    std::fflush(stdout);
  }
  fs::remove_all(tmp);
  return 0;
}
