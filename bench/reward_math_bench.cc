// bench_reward_math: math verifications per second per core on GSM8K-style responses (the
// target is >= 20,000/s), with the single-verification p50/p99 latency, beside verl's
// rule-based scorers re-implemented in Python (bench/reward_math_baseline.py) on the same
// responses in the same run.
//
// Responses: each of the 1,319 GSM8K test solutions (tests/data/math) with its calculator
// notes removed, ending in one of three styles: "\boxed{x}", "#### x", "The answer is x.";
// half of them carry a perturbed (wrong) number. Ours runs the full `math` verifier (extraction,
// normalisation, exact-rational equivalence); the baseline runs the verl scorer meant for the
// style (string equality after normalisation).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "reward/answer_extraction.h"
#include "reward/math_verifier.h"
#include "reward/reward.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string Root() {
  const char* root = std::getenv("PONDER_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

struct Item {
  std::string response;
  std::string gold;
  std::string style;
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

std::vector<Item> MakeItems() {
  std::ifstream in(Root() + "/tests/data/math/gsm8k_test_answers.jsonl");
  std::vector<Item> items;
  std::string line;
  int index = 0;
  while (std::getline(in, line)) {
    std::string answer = nlohmann::json::parse(line)["answer"].get<std::string>();
    std::string gold(*ponder::reward::AfterLastHashes(answer));
    gold.erase(std::remove(gold.begin(), gold.end(), ','), gold.end());
    bool correct = index % 2 == 0;
    std::string value = correct ? gold : std::to_string(std::stoll(gold) + 3);
    std::string reasoning = Reasoning(answer);
    const char* styles[] = {"boxed", "hashes", "answer_is"};
    const char* style = styles[index % 3];
    std::string response = std::string(style) == "boxed"
                               ? absl::StrCat(reasoning, "So the answer is $\\boxed{", value, "}$.")
                           : std::string(style) == "hashes"
                               ? absl::StrCat(reasoning, "#### ", value)
                               : absl::StrCat(reasoning, "The answer is ", value, ".");
    items.push_back({response, gold, style, correct});
    ++index;
  }
  return items;
}

}  // namespace

int main() {
  std::vector<Item> items = MakeItems();
  if (items.empty()) {
    std::cerr << "no items: run from the repository root or set PONDER_SOURCE_DIR\n";
    return 1;
  }
  size_t chars = 0;
  for (const Item& item : items) chars += item.response.size();
  std::printf("%zu GSM8K-style responses, %zu characters on average\n", items.size(),
              chars / items.size());

  auto verifier = *ponder::reward::MathVerifier::Create(ponder::reward::MathOptions());
  std::vector<ponder::reward::VerifyInput> inputs;
  for (const Item& item : items) {
    ponder::reward::VerifyInput input;
    input.response = item.response;
    input.ground_truth = item.gold;
    inputs.push_back(input);
  }
  // Agreement with the expected verdicts.
  int right = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    auto r = verifier->Score(inputs[i]);
    if (r.ok() && r->correct == items[i].expect_correct) ++right;
  }
  // One core: every verification timed.
  std::vector<double> latency_us;
  latency_us.reserve(items.size() * 40);
  auto start = Clock::now();
  double elapsed = 0;
  size_t done = 0;
  while (elapsed < 3.0) {
    for (const auto& input : inputs) {
      auto t0 = Clock::now();
      auto r = verifier->Score(input);
      auto t1 = Clock::now();
      if (!r.ok()) return 2;
      latency_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    done += inputs.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::sort(latency_us.begin(), latency_us.end());
  double ours = done / elapsed;
  double p50 = latency_us[latency_us.size() / 2];
  double p99 = latency_us[latency_us.size() * 99 / 100];

  // All cores through the batch scorer (the thread pool, per-item deadlines).
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ponder::reward::RewardOptions options;
  options.threads = cores;
  auto reward = *ponder::reward::Reward::Create(options);
  std::vector<ponder::reward::VerifyInput> batch;
  for (int k = 0; k < 8; ++k) batch.insert(batch.end(), inputs.begin(), inputs.end());
  auto t0 = Clock::now();
  size_t batch_done = 0;
  double batch_elapsed = 0;
  while (batch_elapsed < 3.0) {
    auto results = reward->ScoreBatch(batch, {});
    batch_done += results->size();
    batch_elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }

  // The baseline on the same responses.
  std::string path = absl::StrCat("/tmp/ponder_bench_reward_math_", getpid(), ".jsonl");
  {
    std::ofstream out(path);
    for (const Item& item : items) {
      nlohmann::json line = {{"response", item.response},
                             {"gold", item.gold},
                             {"style", item.style},
                             {"expect", item.expect_correct}};
      out << line.dump() << "\n";
    }
  }
  std::string cmd = "/usr/bin/python3 " + Root() + "/bench/reward_math_baseline.py " + path + " 3";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  if (pipe != nullptr) pclose(pipe);
  std::remove(path.c_str());
  nlohmann::json baseline = nlohmann::json::parse(output, nullptr, false);

  std::printf("\n%-58s %14s %10s\n", "", "verif./s/core", "verdicts");
  std::printf("%-58s %14.0f %6d/%zu\n", "ponder math verifier (C++, 1 thread)", ours, right,
              items.size());
  if (baseline.is_object()) {
    std::printf("%-58s %14.0f %6d/%zu\n", "verl gsm8k/math rule scorers (Python, re-implemented)",
                baseline["verifications_per_s"].get<double>(), baseline["agree"].get<int>(),
                items.size());
    std::printf("%-58s %14.1fx\n", "ratio", ours / baseline["verifications_per_s"].get<double>());
  } else {
    std::printf("baseline failed: %s\n", output.c_str());
  }
  std::printf("%-58s %14.0f\n", "target (issue 5)", 20000.0);
  std::printf("\nlatency per verification (1 thread): p50 %.1f us, p99 %.1f us\n", p50, p99);
  std::printf("batch scorer on %u threads: %.0f verifications/s in total\n", cores,
              batch_done / batch_elapsed);
  std::printf(
      "(verdicts: how many verdicts match the construction; half the answers are "
      "perturbed)\n");
  return 0;
}
