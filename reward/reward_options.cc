#include "reward/reward_options.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/verifier_registry.h"

namespace ponder::reward {

void RewardTermOptions::Bind(config::Binder& b) {
  const VerifierRegistry& registry = VerifierRegistry::Builtins();
  auto name_check = b.Field("name", name);
  name_check.NotEmpty();
  const VerifierRegistry::Entry* entry = b.reading() ? registry.Find(name) : nullptr;
  if (b.reading() && !name.empty()) {
    name_check.Must(entry != nullptr,
                    absl::StrCat("be a registered verifier (got '", name,
                                 "'; registered: ", absl::StrJoin(registry.Names(), ", "), ")"));
  }
  b.Field("label", label);
  b.Field("weight", weight);
  b.Field("options", options);
  // Decode the options with the verifier's own type now, so problems surface at load.
  if (entry != nullptr) entry->check_options(b, "options");
}

std::vector<RewardTermOptions> DefaultRewardTerms() {
  RewardTermOptions math;
  math.name = "math";
  return {math};
}

void RewardOptions::Bind(config::Binder& b) {
  b.Field("verifiers", verifiers);
  b.Field("sources", sources);
  b.Field("threads", threads).AtLeast(0);
  b.Field("timeout_s", timeout_s).GreaterThan(0.0);
  b.Field("addresses", addresses);
  b.Field("token", token);
  b.Field("tls", tls);
  b.Field("rpc_timeout_s", rpc_timeout_s).GreaterThan(0.0);
  b.Field("max_attempts", max_attempts).AtLeast(1);
  b.Field("connect_timeout_s", connect_timeout_s).GreaterThan(0.0);
  b.Field("length_penalty", length_penalty);
  b.Field("overlong", overlong);
}

namespace {
absl::Status CheckTerms(const std::vector<RewardTermOptions>& terms, const std::string& where) {
  if (terms.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("needs at least one verifier in ", where));
  }
  std::set<std::string> keys;
  for (const RewardTermOptions& t : terms) {
    if (!keys.insert(t.key()).second) {
      return absl::InvalidArgumentError(absl::StrCat("has '", t.key(), "' twice in ", where,
                                                     "; give one of them a distinct `label`"));
    }
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status RewardOptions::Validate() const {
  absl::Status status = CheckTerms(verifiers, "verifiers");
  if (!status.ok()) return status;
  for (const auto& [source, terms] : sources) {
    status = CheckTerms(terms, absl::StrCat("sources.", source));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace ponder::reward
