// Named factories of one interface: the shape of every plug-in axis (verifiers, policy losses,
// advantage estimators, rollout corrections, built-in tasks, prompt samplers).
//
//   Registry<PolicyLoss, AlgorithmOptions> losses("policy loss");
//   losses.Register<PpoClipLoss>("ppo", "PPO's clipped surrogate");
//   absl::StatusOr<std::unique_ptr<PolicyLoss>> loss = losses.Create("ppo", options);
//
// A class registered with Register<T> provides
//   static absl::StatusOr<std::unique_ptr<T>> Create(const Options&);
// or, when Options is config::Block (options typed per entry, decoded from the job file),
//   struct Options { ...; void Bind(config::Binder& b); };
//   static absl::StatusOr<std::unique_ptr<T>> Create(const Options&);
// and then CheckOptions validates an entry's block at load, with file, line and key.
//
// Registration is explicit, in one list file per axis (e.g. trainer/algorithm_list.cc):
// self-registering statics in a static library are dropped by the linker when nothing else
// references their object file. Messages list the entries in registration order.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/config.h"
#include "base/status.h"

namespace ponder {

template <typename Interface, typename Options>
class Registry {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<Interface>>(const Options&)>;
  // Decodes `key` of the binder's current section as the entry's own options, reporting
  // problems through the binder (set by Register<T> when Options is config::Block).
  using OptionsCheck = std::function<void(config::Binder& b, const char* key)>;

  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
    OptionsCheck check_options;        // may be empty
    std::vector<std::string> aliases;  // other names that find this entry
  };

  // `kind` names an entry in messages: "policy loss", "verifier".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Adds `entry`; InvalidArgument without a name or factory, AlreadyExists when one of its
  // names is taken.
  absl::Status Add(Entry entry) {
    if (entry.name.empty())
      return absl::InvalidArgumentError(absl::StrCat("a ", kind_, " needs a name"));
    if (!entry.factory) {
      return absl::InvalidArgumentError(absl::StrCat(kind_, " '", entry.name, "' has no factory"));
    }
    std::vector<std::string> names = entry.aliases;
    names.insert(names.begin(), entry.name);
    for (const std::string& name : names) {
      if (Find(name) != nullptr) {
        return absl::AlreadyExistsError(absl::StrCat(kind_, " '", name, "' is registered twice"));
      }
    }
    entries_.push_back(std::make_unique<Entry>(std::move(entry)));
    return absl::OkStatus();
  }

  // Adds class T under `name` (see the header comment for what T provides). Registration
  // lines are code, not input: a duplicate name aborts.
  template <typename T>
  void Register(std::string name, std::string description, std::vector<std::string> aliases = {}) {
    Entry entry{std::move(name), std::move(description), nullptr, nullptr, std::move(aliases)};
    if constexpr (std::is_same_v<Options, config::Block>) {
      entry.factory = [](const config::Block& block) -> absl::StatusOr<std::unique_ptr<Interface>> {
        typename T::Options options;
        PONDER_RETURN_IF_ERROR(block.Decode(options));
        PONDER_ASSIGN_OR_RETURN(std::unique_ptr<T> made, T::Create(options));
        return std::unique_ptr<Interface>(std::move(made));
      };
      entry.check_options = [](config::Binder& b, const char* key) {
        typename T::Options options;
        b.Field(key, options);
      };
    } else {
      entry.factory = [](const Options& options) -> absl::StatusOr<std::unique_ptr<Interface>> {
        PONDER_ASSIGN_OR_RETURN(std::unique_ptr<T> made, T::Create(options));
        return std::unique_ptr<Interface>(std::move(made));
      };
    }
    if (absl::Status status = Add(std::move(entry)); !status.ok()) {
      std::fprintf(stderr, "%s registry: %s\n", kind_.c_str(),
                   std::string(status.message()).c_str());
      std::abort();
    }
  }

  // The entry registered under `name` or one of its aliases; null when none is.
  const Entry* Find(const std::string& name) const {
    for (const auto& entry : entries_) {
      if (entry->name == name) return entry.get();
      for (const std::string& alias : entry->aliases) {
        if (alias == name) return entry.get();
      }
    }
    return nullptr;
  }
  bool Contains(const std::string& name) const { return Find(name) != nullptr; }

  // The entries' names, in registration order (aliases not included).
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : entries_) names.push_back(entry->name);
    return names;
  }
  std::vector<const Entry*> Entries() const {
    std::vector<const Entry*> out;
    for (const auto& entry : entries_) out.push_back(entry.get());
    return out;
  }
  // "supported: a, b (or b2), c" -- for messages about a name that is not registered.
  std::string Supported() const {
    std::vector<std::string> names;
    for (const auto& entry : entries_) {
      names.push_back(
          entry->aliases.empty()
              ? entry->name
              : absl::StrCat(entry->name, " (or ", absl::StrJoin(entry->aliases, ", "), ")"));
    }
    return absl::StrCat("supported: ", absl::StrJoin(names, ", "));
  }
  // A message for `name` when it is not registered: "unknown policy loss 'x' (supported: ...)".
  std::string Unknown(const std::string& name) const {
    return absl::StrCat("unknown ", kind_, " '", name, "' (", Supported(), ")");
  }

  // Builds entry `name` from `options`: NotFound (Unknown(name)) when it is not registered,
  // else what its factory returns.
  absl::StatusOr<std::unique_ptr<Interface>> Create(const std::string& name,
                                                    const Options& options) const {
    const Entry* entry = Find(name);
    if (entry == nullptr) return absl::NotFoundError(Unknown(name));
    return entry->factory(options);
  }

  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<std::unique_ptr<Entry>> entries_;  // stable addresses for Find
};

}  // namespace ponder
