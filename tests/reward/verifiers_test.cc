// Every built-in verifier except math-on-datasets and code, driven by
// tests/reward/cases/verifiers.jsonl: one case per line with the verifier, its options, the
// input and the expected score / correct / details (a subset) or error text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "reward/verifier_registry.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

// Whether every key of `want` is in `got` with the same value (recursively for objects).
bool ContainsSubset(const nlohmann::json& got, const nlohmann::json& want) {
  if (!want.is_object()) return got == want;
  if (!got.is_object()) return false;
  for (const auto& [key, value] : want.items()) {
    if (!got.contains(key) || !ContainsSubset(got[key], value)) return false;
  }
  return true;
}

TEST(VerifiersTest, CasesFromFile) {
  const std::string file = "tests/reward/cases/verifiers.jsonl";
  std::ifstream in(testing::SourcePath(file));
  ASSERT_TRUE(in.good()) << file;
  const VerifierRegistry& registry = VerifierRegistry::Builtins();
  std::string line;
  int number = 0, cases = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    ++cases;
    const std::string where = absl::StrCat(file, ":", number);
    nlohmann::json c = nlohmann::json::parse(line);
    SCOPED_TRACE(where + " (" + c.value("note", "") + ")");
    std::string options = c.contains("options") ? c["options"].dump() : "";
    auto verifier = registry.CreateFromYaml(c["verifier"], options, where);
    if (!verifier.ok()) {
      ASSERT_TRUE(c.contains("error")) << verifier.status();
      EXPECT_THAT(std::string(verifier.status().message()),
                  ::testing::HasSubstr(c["error"].get<std::string>()));
      continue;
    }
    VerifyInput input;
    input.response = c["response"];
    input.ground_truth = c["ground_truth"];
    if (c.contains("metadata")) input.metadata = c["metadata"];
    absl::StatusOr<VerifyResult> result = (*verifier)->Score(input);
    if (c.contains("error")) {
      ASSERT_FALSE(result.ok()) << "expected an error, got score " << result->score;
      EXPECT_THAT(std::string(result.status().message()),
                  ::testing::HasSubstr(c["error"].get<std::string>()));
      continue;
    }
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_DOUBLE_EQ(result->score, c["score"].get<double>());
    if (c.contains("correct")) {
      ASSERT_TRUE(result->correct.has_value());
      EXPECT_EQ(*result->correct, c["correct"].get<bool>());
    } else {
      EXPECT_FALSE(result->correct.has_value());
    }
    if (c.contains("details")) {
      EXPECT_TRUE(ContainsSubset(result->details, c["details"]))
          << "details " << result->details.dump() << " lack " << c["details"].dump();
    }
  }
  EXPECT_GT(cases, 50);
}

TEST(VerifierRegistryTest, UnknownNameListsTheRegisteredOnes) {
  auto verifier = VerifierRegistry::Builtins().Create("maths", config::Block());
  ASSERT_FALSE(verifier.ok());
  EXPECT_EQ(verifier.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(verifier.status().message()),
              ::testing::HasSubstr("unknown verifier 'maths' (registered: "));
  EXPECT_THAT(std::string(verifier.status().message()), ::testing::HasSubstr("math"));
}

TEST(VerifierRegistryTest, BadOptionsNameTheVerifierAndTheKey) {
  auto verifier =
      VerifierRegistry::Builtins().CreateFromYaml("math", "{random_points: 1}", "--options");
  ASSERT_FALSE(verifier.ok());
  EXPECT_THAT(std::string(verifier.status().message()),
              ::testing::HasSubstr("verifier 'math': --options:"));
  EXPECT_THAT(std::string(verifier.status().message()),
              ::testing::HasSubstr("options.random_points must be >= 3 (got 1)"));
}

TEST(VerifierRegistryTest, DuplicateAndEmptyNamesAreRefused) {
  VerifierRegistry registry = VerifierRegistry::WithBuiltins();
  VerifierRegistry::Entry entry;
  entry.name = "math";
  entry.factory = [](const config::Block&) -> absl::StatusOr<std::unique_ptr<Verifier>> {
    return absl::UnimplementedError("unused");
  };
  EXPECT_EQ(registry.Add(entry).code(), absl::StatusCode::kAlreadyExists);
  entry.name = "";
  EXPECT_EQ(registry.Add(entry).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(registry.Names(), ::testing::IsSupersetOf({"countdown", "exact_match", "format",
                                                         "math", "multiple_choice"}));
}

}  // namespace
}  // namespace ponder::reward
