#include "reward/verifier_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ponder::reward {

VerifierRegistry VerifierRegistry::WithBuiltins() {
  VerifierRegistry registry;
  RegisterBuiltinVerifiers(registry);
  return registry;
}

const VerifierRegistry& VerifierRegistry::Builtins() {
  static const VerifierRegistry* const registry = new VerifierRegistry(WithBuiltins());
  return *registry;
}

absl::Status VerifierRegistry::Add(Entry entry) {
  if (entry.name.empty()) return absl::InvalidArgumentError("a verifier needs a name");
  if (!entry.factory) {
    return absl::InvalidArgumentError(absl::StrCat("verifier '", entry.name, "' has no factory"));
  }
  if (entries_.count(entry.name) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("verifier '", entry.name, "' is registered twice"));
  }
  std::string name = entry.name;
  entries_.emplace(std::move(name), std::move(entry));
  return absl::OkStatus();
}

const VerifierRegistry::Entry* VerifierRegistry::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> VerifierRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

std::vector<const VerifierRegistry::Entry*> VerifierRegistry::Entries() const {
  std::vector<const Entry*> out;
  for (const auto& [name, entry] : entries_) out.push_back(&entry);
  return out;
}

absl::StatusOr<std::unique_ptr<Verifier>> VerifierRegistry::Create(
    const std::string& name, const config::Block& options) const {
  const Entry* entry = Find(name);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown verifier '", name,
                                            "' (registered: ", absl::StrJoin(Names(), ", "), ")"));
  }
  if (options.empty() && options.path().empty()) {
    // No block at all: decode an empty one, so that messages still say where ("options").
    return CreateFromYaml(name, "{}", "(default options)");
  }
  absl::StatusOr<std::unique_ptr<Verifier>> verifier = entry->factory(options);
  if (!verifier.ok()) {
    return Annotate(verifier.status(), absl::StrCat("verifier '", name, "'"));
  }
  return verifier;
}

namespace {
// Holds the options of one verifier read from YAML text, under the key `options`.
struct OptionsHolder {
  config::Block options;
  void Bind(config::Binder& b) { b.Field("options", options); }
};
}  // namespace

absl::StatusOr<std::unique_ptr<Verifier>> VerifierRegistry::CreateFromYaml(
    const std::string& name, const std::string& options_yaml, const std::string& where) const {
  if (options_yaml.empty()) return Create(name, config::Block());
  // Nest the text under `options:` (indented, so block and flow styles both work).
  std::string nested = "options:\n";
  for (absl::string_view line : absl::StrSplit(options_yaml, '\n')) {
    absl::StrAppend(&nested, "  ", line, "\n");
  }
  PONDER_ASSIGN_OR_RETURN(config::Document doc, config::Document::FromString(nested, where));
  OptionsHolder holder;
  PONDER_RETURN_IF_ERROR(doc.Decode(holder));
  return Create(name, holder.options);
}

}  // namespace ponder::reward
