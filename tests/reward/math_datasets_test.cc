// The math verifier on real data (tests/data/math, copied from GSM8K and MATH-500):
//  - every GSM8K test answer, embedded in several response styles, verifies correct against
//    its gold, and the same response with a perturbed number verifies incorrect (100%);
//  - the last \boxed{} of each MATH-500 reference solution equals the `answer` field
//    (all 500; misses are printed), and a perturbed answer does not (all of them).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "reward/answer_extraction.h"
#include "reward/math_verifier.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

std::vector<nlohmann::json> ReadJsonl(const std::string& relative) {
  std::ifstream in(testing::SourcePath(relative));
  EXPECT_TRUE(in.good()) << "cannot read " << relative;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

// "1450000" -> "1,450,000" (keeps a leading minus).
std::string WithCommas(const std::string& digits) {
  std::string sign = digits[0] == '-' ? "-" : "";
  std::string body = digits.substr(sign.size());
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (i > 0 && (body.size() - i) % 3 == 0) out += ',';
    out += body[i];
  }
  return sign + out;
}

std::string WithoutCommas(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return s;
}

// The worked solution without its "#### x" line and without the <<a*b=c>> calculator notes.
std::string Reasoning(const std::string& answer) {
  std::string text = answer.substr(0, answer.rfind("####"));
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("<<", i);
    if (open == std::string::npos) {
      out += text.substr(i);
      break;
    }
    size_t close = text.find(">>", open);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    i = close + 2;
  }
  return out;
}

struct Style {
  const char* name;
  std::string (*render)(const std::string& reasoning, const std::string& value);
};

const Style kStyles[] = {
    {"boxed",
     [](const std::string& r, const std::string& v) {
       return absl::StrCat(r, "So the final answer is $\\boxed{", v, "}$.");
     }},
    {"hashes",
     [](const std::string& r, const std::string& v) { return absl::StrCat(r, "#### ", v); }},
    {"answer_is", [](const std::string& r,
                     const std::string& v) { return absl::StrCat(r, "The answer is ", v, "."); }},
    {"answer_is_commas",
     [](const std::string& r, const std::string& v) {
       return absl::StrCat(r, "The answer is ", WithCommas(v), ".");
     }},
    {"boxed_commas",
     [](const std::string& r, const std::string& v) {
       return absl::StrCat(r, "Therefore the total is \\boxed{", WithCommas(v), "}");
     }},
    {"boxed_latex_commas",
     [](const std::string& r, const std::string& v) {
       std::string c = WithCommas(v);
       std::string latex;
       for (char ch : c) latex += ch == ',' ? std::string("{,}") : std::string(1, ch);
       return absl::StrCat(r, "\\[\\boxed{", latex, "}\\]");
     }},
    {"dollars",
     [](const std::string& r, const std::string& v) {
       return absl::StrCat(r, "The answer is: $", WithCommas(v), " dollars.");
     }},
};

TEST(MathDatasetsTest, Gsm8kEveryAnswerInEveryStyle) {
  std::vector<nlohmann::json> rows = ReadJsonl("tests/data/math/gsm8k_test_answers.jsonl");
  ASSERT_EQ(rows.size(), 1319u);
  auto verifier = MathVerifier::Create(MathOptions());
  ASSERT_TRUE(verifier.ok());
  int checked = 0;
  std::vector<std::string> failures;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string answer = rows[i]["answer"].get<std::string>();
    std::optional<std::string_view> gold_view = AfterLastHashes(answer);
    ASSERT_TRUE(gold_view.has_value()) << "record " << i;
    const std::string gold(*gold_view);  // as in the dataset: "18", "1,450,000"
    const std::string value = WithoutCommas(gold);
    const std::string wrong = std::to_string(std::stoll(value) + (i % 2 == 0 ? 1 : -7));
    const std::string reasoning = Reasoning(answer);
    for (const Style& style : kStyles) {
      VerifyInput input;
      input.ground_truth = gold;
      input.response = style.render(reasoning, value);
      absl::StatusOr<VerifyResult> right = (*verifier)->Score(input);
      ASSERT_TRUE(right.ok()) << right.status();
      if (!right->correct.value_or(false)) {
        failures.push_back(absl::StrCat("record ", i, " style ", style.name, ": gold ", gold,
                                        " extracted ", right->details.dump()));
      }
      input.response = style.render(reasoning, wrong);
      absl::StatusOr<VerifyResult> perturbed = (*verifier)->Score(input);
      ASSERT_TRUE(perturbed.ok()) << perturbed.status();
      if (perturbed->correct.value_or(true)) {
        failures.push_back(absl::StrCat("record ", i, " style ", style.name, " (perturbed ", wrong,
                                        "): gold ", gold, " details ", perturbed->details.dump()));
      }
      checked += 2;
    }
  }
  EXPECT_EQ(checked, 1319 * 2 * static_cast<int>(std::size(kStyles)));
  for (size_t k = 0; k < failures.size() && k < 20; ++k) ADD_FAILURE() << failures[k];
  EXPECT_EQ(failures.size(), 0u);
}

// The first digit of `answer` changed (d -> d+1 mod 10), or "" when it has none.
std::string PerturbFirstDigit(const std::string& answer) {
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] >= '0' && answer[i] <= '9') {
      std::string out = answer;
      out[i] = static_cast<char>('0' + (answer[i] - '0' + 1) % 10);
      return out;
    }
  }
  return "";
}

TEST(MathDatasetsTest, Math500ReferenceSolutionsAgreeWithAnswers) {
  std::vector<nlohmann::json> rows = ReadJsonl("tests/data/math/math500_solutions.jsonl");
  ASSERT_EQ(rows.size(), 500u);
  MathOptions options;
  options.fallback_last_number = false;
  auto verifier = MathVerifier::Create(options);
  ASSERT_TRUE(verifier.ok());
  int correct = 0, perturbed_total = 0, perturbed_rejected = 0;
  std::string misses, false_accepts;
  for (const nlohmann::json& row : rows) {
    VerifyInput input;
    input.response = row["solution"].get<std::string>();
    input.ground_truth = row["answer"].get<std::string>();
    absl::StatusOr<VerifyResult> result = (*verifier)->Score(input);
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->correct.value_or(false)) {
      ++correct;
    } else {
      absl::StrAppend(&misses, "\n  ", row["unique_id"].get<std::string>(), ": answer '",
                      row["answer"].get<std::string>(), "' extracted ",
                      result->details.value("extracted", nlohmann::json()).dump());
    }
    std::string perturbed = PerturbFirstDigit(row["answer"].get<std::string>());
    if (perturbed.empty()) continue;
    ++perturbed_total;
    if (!MathAnswersEqual(row["answer"].get<std::string>(), perturbed, options)) {
      ++perturbed_rejected;
    } else {
      absl::StrAppend(&false_accepts, "\n  ", row["unique_id"].get<std::string>(), ": '",
                      row["answer"].get<std::string>(), "' accepted '", perturbed, "'");
    }
  }
  std::printf("MATH-500: %d/500 reference solutions verify; misses:%s\n", correct,
              misses.empty() ? " none" : misses.c_str());
  std::printf("MATH-500: %d/%d perturbed answers rejected; accepted:%s\n", perturbed_rejected,
              perturbed_total, false_accepts.empty() ? " none" : false_accepts.c_str());
  EXPECT_EQ(correct, 500) << misses;
  EXPECT_EQ(perturbed_rejected, perturbed_total) << false_accepts;
}

}  // namespace
}  // namespace ponder::reward
