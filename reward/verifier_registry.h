// Verifiers by name. Each entry builds its verifier from a typed options block of the job
// config (`options:` under a reward term), so a bad block is reported with file and line.
//
//   VerifierRegistry registry = VerifierRegistry::WithBuiltins();
//   absl::StatusOr<std::unique_ptr<Verifier>> math = registry.Create("math", block);
//
// A verifier class used with Register<V> provides:
//   struct Options { ...; void Bind(config::Binder& b); };           // typed, with defaults
//   static absl::StatusOr<std::unique_ptr<V>> Create(const Options&);
// The built-in list is reward/verifier_list.cc: one line per verifier. (Registration is
// explicit on purpose: self-registering statics in a static library are dropped by the
// linker when nothing else references their object file.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/config.h"
#include "base/status.h"
#include "reward/verifier.h"

namespace ponder::reward {

class VerifierRegistry {
 public:
  using Factory =
      std::function<absl::StatusOr<std::unique_ptr<Verifier>>(const config::Block& options)>;
  // Decodes `key` of the binder's current section as this verifier's options, reporting
  // problems through the binder (so they carry file, line and key like every other field).
  using OptionsCheck = std::function<void(config::Binder& b, const char* key)>;

  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
    OptionsCheck check_options;
  };

  // A registry holding every built-in verifier (reward/verifier_list.cc).
  static VerifierRegistry WithBuiltins();
  // The built-in registry, built once; read-only.
  static const VerifierRegistry& Builtins();

  // Adds verifier class V under `name` (see the header comment for what V provides).
  template <typename V>
  void Register(std::string name, std::string description);

  // Adds an entry by hand (used by tests and by verifiers whose options are not a struct).
  // Fails when the name is taken or empty.
  absl::Status Add(Entry entry);

  const Entry* Find(const std::string& name) const;
  std::vector<std::string> Names() const;  // sorted
  std::vector<const Entry*> Entries() const;

  // Builds verifier `name` from `options` (an empty block means all defaults). Unknown
  // names are NotFound listing the known ones; bad options are InvalidArgument with the
  // block's location.
  absl::StatusOr<std::unique_ptr<Verifier>> Create(const std::string& name,
                                                   const config::Block& options) const;
  // The same from a YAML text (e.g. a CLI flag); `where` names its origin in messages.
  absl::StatusOr<std::unique_ptr<Verifier>> CreateFromYaml(const std::string& name,
                                                           const std::string& options_yaml,
                                                           const std::string& where) const;

 private:
  std::map<std::string, Entry> entries_;
};

// Adds every built-in verifier to `registry` (defined in reward/verifier_list.cc).
void RegisterBuiltinVerifiers(VerifierRegistry& registry);

template <typename V>
void VerifierRegistry::Register(std::string name, std::string description) {
  Entry entry;
  entry.name = std::move(name);
  entry.description = std::move(description);
  entry.factory = [](const config::Block& block) -> absl::StatusOr<std::unique_ptr<Verifier>> {
    typename V::Options options;
    PONDER_RETURN_IF_ERROR(block.Decode(options));
    PONDER_ASSIGN_OR_RETURN(std::unique_ptr<V> verifier, V::Create(options));
    return std::unique_ptr<Verifier>(std::move(verifier));
  };
  entry.check_options = [](config::Binder& b, const char* key) {
    typename V::Options options;
    b.Field(key, options);
  };
  absl::Status status = Add(std::move(entry));
  if (!status.ok()) {
    // Registration lines are code, not input: a duplicate is a programming error.
    std::fprintf(stderr, "verifier registry: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
}

}  // namespace ponder::reward
