// bench_reward_math: math verifications per second per core (the target is >= 20,000/s on
// GSM8K-style responses), with the single-verification p50/p99 latency, beside verl's
// rule-based scorers re-implemented in Python (bench/reward_math_baseline.py) on the same
// responses in the same run, and, when PONDER_BENCH_MATH_BEFORE names a bench_reward_math
// built against an earlier `math` verifier (bench/reward_math_before.sh builds one), that
// verifier's figures on the same items beside ours.
//
// Two sets of items:
//   GSM8K-style    each of the 1,319 GSM8K test solutions (tests/data/math) with its calculator
//                  notes removed, ending in "\boxed{x}", "#### x" or "The answer is x."; half
//                  carry a perturbed (wrong) number. verl runs the scorer meant for the style.
//   labelled pairs the verifier's acceptance cases (tests/reward/cases/math_answers.tsv):
//                  relations, intervals, sets, matrices, symbolic forms, hostile inputs.
// "verdicts" counts the verdicts that match the expected ones.
//
// `bench_reward_math --json` prints only this verifier's figures, as one JSON line.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "reward/answer_extraction.h"
#include "reward/math_verifier.h"
#include "reward/reward.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using ponder::reward::VerifyInput;

std::string Root() {
  const char* root = std::getenv("PONDER_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

struct Item {
  VerifyInput input;
  std::string style;  // GSM8K-style items: boxed, hashes or answer_is
  bool expect_correct;
};

std::string Reasoning(const std::string& answer) {
  std::string text = answer.substr(0, answer.rfind("####"));
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("<<", i);
    size_t close = open == std::string::npos ? open : text.find(">>", open);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    i = close + 2;
  }
  return out;
}

std::vector<Item> MakeGsm8kItems() {
  std::ifstream in(Root() + "/tests/data/math/gsm8k_test_answers.jsonl");
  std::vector<Item> items;
  std::string line;
  int index = 0;
  while (std::getline(in, line)) {
    std::string answer = json::parse(line)["answer"].get<std::string>();
    std::string gold(*ponder::reward::AfterLastHashes(answer));
    gold.erase(std::remove(gold.begin(), gold.end(), ','), gold.end());
    bool correct = index % 2 == 0;
    std::string value = correct ? gold : std::to_string(std::stoll(gold) + 3);
    std::string reasoning = Reasoning(answer);
    const char* styles[] = {"boxed", "hashes", "answer_is"};
    std::string style = styles[index % 3];
    Item item;
    item.input.response =
        style == "boxed"    ? absl::StrCat(reasoning, "So the answer is $\\boxed{", value, "}$.")
        : style == "hashes" ? absl::StrCat(reasoning, "#### ", value)
                            : absl::StrCat(reasoning, "The answer is ", value, ".");
    item.input.ground_truth = gold;
    item.style = style;
    item.expect_correct = correct;
    items.push_back(std::move(item));
    ++index;
  }
  return items;
}

// response <TAB> gold <TAB> = or != <TAB> category, as tests/reward/math_answers_test.cc reads it.
std::vector<Item> MakeLabelledItems() {
  std::ifstream in(Root() + "/tests/reward/cases/math_answers.tsv");
  std::vector<Item> items;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 4) continue;
    Item item;
    item.input.response = absl::StrReplaceAll(fields[0], {{"<NL>", "\n"}});
    item.input.ground_truth = fields[1];
    item.expect_correct = fields[2] == "=";
    items.push_back(std::move(item));
  }
  return items;
}

// One core: every verification timed, for at least `seconds`.
json Measure(const ponder::reward::Verifier& verifier, const std::vector<Item>& items,
             double seconds) {
  int right = 0;
  for (const Item& item : items) {
    auto r = verifier.Score(item.input);
    if (r.ok() && r->correct.value_or(false) == item.expect_correct) ++right;
  }
  std::vector<double> latency_us;
  auto start = Clock::now();
  double elapsed = 0;
  size_t done = 0;
  while (elapsed < seconds) {
    for (const Item& item : items) {
      auto t0 = Clock::now();
      auto r = verifier.Score(item.input);
      auto t1 = Clock::now();
      if (!r.ok()) return {{"error", std::string(r.status().message())}};
      latency_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    done += items.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::sort(latency_us.begin(), latency_us.end());
  return {{"per_s", done / elapsed},
          {"agree", right},
          {"items", items.size()},
          {"p50_us", latency_us[latency_us.size() / 2]},
          {"p99_us", latency_us[latency_us.size() * 99 / 100]}};
}

std::string RunAndRead(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  if (pipe != nullptr) pclose(pipe);
  return output;
}

// verl's scorers on the GSM8K-style items, in Python.
json RunVerl(const std::vector<Item>& items) {
  std::string path = absl::StrCat("/tmp/ponder_bench_reward_math_", getpid(), ".jsonl");
  {
    std::ofstream out(path);
    for (const Item& item : items) {
      json line = {{"response", item.input.response},
                   {"gold", item.input.ground_truth},
                   {"style", item.style},
                   {"expect", item.expect_correct}};
      out << line.dump() << "\n";
    }
  }
  std::string output =
      RunAndRead("/usr/bin/python3 " + Root() + "/bench/reward_math_baseline.py " + path + " 3");
  std::remove(path.c_str());
  json baseline = json::parse(output, nullptr, false);
  if (!baseline.is_object()) return {{"error", output}};
  return {{"per_s", baseline["verifications_per_s"]},
          {"agree", baseline["agree"]},
          {"items", baseline["items"]}};
}

void PrintRow(const std::string& name, const json& gsm8k, const json& labelled) {
  auto cell = [](const json& m) {
    if (!m.is_object() || !m.contains("per_s")) return std::string("             -         -");
    char text[64];
    std::snprintf(text, sizeof(text), "%14.0f %5d/%-4d", m["per_s"].get<double>(),
                  m["agree"].get<int>(), m["items"].get<int>());
    return std::string(text);
  };
  std::printf("%-48s %s %s\n", name.c_str(), cell(gsm8k).c_str(), cell(labelled).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bool json_only = argc > 1 && std::string(argv[1]) == "--json";
  std::vector<Item> gsm8k = MakeGsm8kItems();
  std::vector<Item> labelled = MakeLabelledItems();
  if (gsm8k.empty() || labelled.empty()) {
    std::cerr << "no items: run from the repository root or set PONDER_SOURCE_DIR\n";
    return 1;
  }
  auto verifier = *ponder::reward::MathVerifier::Create(ponder::reward::MathOptions());
  json ours = {{"gsm8k", Measure(*verifier, gsm8k, 3.0)},
               {"labelled", Measure(*verifier, labelled, 3.0)}};
  if (json_only) {
    std::printf("%s\n", ours.dump().c_str());
    return 0;
  }
  size_t chars = 0;
  for (const Item& item : gsm8k) chars += item.input.response.size();
  std::printf("%zu GSM8K-style responses (%zu characters on average), %zu labelled pairs\n",
              gsm8k.size(), chars / gsm8k.size(), labelled.size());

  json before;
  const char* before_bin = std::getenv("PONDER_BENCH_MATH_BEFORE");
  if (before_bin != nullptr && *before_bin != '\0') {
    before = json::parse(RunAndRead(std::string(before_bin) + " --json"), nullptr, false);
  }
  json verl = RunVerl(gsm8k);

  // All cores through the batch scorer (the thread pool, per-item deadlines).
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ponder::reward::RewardOptions options;
  options.threads = cores;
  auto reward = *ponder::reward::Reward::Create(options);
  std::vector<VerifyInput> batch;
  for (int k = 0; k < 8; ++k) {
    for (const Item& item : gsm8k) batch.push_back(item.input);
  }
  auto t0 = Clock::now();
  size_t batch_done = 0;
  double batch_elapsed = 0;
  while (batch_elapsed < 3.0) {
    auto results = reward->ScoreBatch(batch, {});
    batch_done += results->size();
    batch_elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }

  std::printf("\n%-48s %25s %25s\n", "", "GSM8K-style", "labelled pairs");
  std::printf("%-48s %14s %10s %14s %10s\n", "", "verif./s/core", "verdicts", "verif./s/core",
              "verdicts");
  PrintRow("ponder math verifier (C++, 1 thread)", ours["gsm8k"], ours["labelled"]);
  if (before.is_object()) {
    PrintRow("ponder math verifier before (C++, 1 thread)", before["gsm8k"], before["labelled"]);
  } else if (before_bin != nullptr) {
    std::printf("%s --json failed\n", before_bin);
  }
  if (verl.contains("error")) {
    std::printf("baseline failed: %s\n", verl["error"].get<std::string>().c_str());
  } else {
    PrintRow("verl gsm8k/math rule scorers (Python)", verl, json());
    std::printf("%-48s %13.1fx\n", "ratio to verl",
                ours["gsm8k"]["per_s"].get<double>() / verl["per_s"].get<double>());
  }
  std::printf("%-48s %14.0f\n", "target (issue 12)", 20000.0);
  for (const char* set : {"gsm8k", "labelled"}) {
    std::printf("\nlatency per verification, %s (1 thread): p50 %.1f us, p99 %.1f us", set,
                ours[set]["p50_us"].get<double>(), ours[set]["p99_us"].get<double>());
    if (before.is_object()) {
      std::printf("; before: p50 %.1f us, p99 %.1f us", before[set]["p50_us"].get<double>(),
                  before[set]["p99_us"].get<double>());
    }
  }
  std::printf("\nbatch scorer on %u threads, GSM8K-style: %.0f verifications/s in total\n", cores,
              batch_done / batch_elapsed);
  return 0;
}
