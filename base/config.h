// Typed configuration: YAML job files decoded into options structs with in-class defaults.
//
// An options struct lists its fields once, in a Bind method; the same list drives reading
// (with type, range and unknown-key errors that name the key, file and line), and writing the
// fully resolved config back as YAML:
//
//   struct RunOptions {
//     std::string dir = "runs/default";
//     int64_t seed = 1;
//     void Bind(config::Binder& b) {
//       b.Field("dir", dir).NotEmpty();
//       b.Field("seed", seed).AtLeast(0);
//     }
//     absl::Status Validate() const;  // optional: rules that involve several fields
//   };
//
//   absl::StatusOr<JobConfig> job = config::LoadFile<JobConfig>("job.yaml", {"run.seed=3"});
//   std::string yaml = config::ToYaml(*job);
//   std::vector<FieldInfo> fields = config::DescribeFields<JobConfig>();  // the reference
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ponder::config {

class Binder;

// One field of an options struct as the configuration reference lists it
// (`ponder config reference`): its key, type, default and the rules checked at load.
struct FieldInfo {
  std::string path;           // dotted key; "[]" stands for any list item, "<name>" for any map key
  std::string type;           // bool, integer, number, string, section, list of ..., map of ...,
                              // one of: a | b, options block
  std::string default_value;  // as flow YAML; empty for a section
  std::vector<std::string> rules;  // e.g. ">= 0", "not empty", "must be ..."
};

namespace internal {
struct Context;

template <typename T, typename = void>
struct HasBind : std::false_type {};
template <typename T>
struct HasBind<T, std::void_t<decltype(std::declval<T&>().Bind(std::declval<Binder&>()))>>
    : std::true_type {};

template <typename T, typename = void>
struct HasValidate : std::false_type {};
template <typename T>
struct HasValidate<T, std::void_t<decltype(std::declval<const T&>().Validate())>> : std::true_type {
};

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsStringMap : std::false_type {};
template <typename T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

// Shortest text that reads back as the same double ("0.1", "1e-05", "3").
std::string FormatDouble(double value);
}  // namespace internal

// A YAML block whose type is decided later, e.g. a verifier's options, typed by the
// verifier's name. Decoding it gives the same messages (key, file, line) as the rest.
class Block {
 public:
  Block() = default;
  bool empty() const { return !node_.IsDefined() || node_.IsNull() || node_.size() == 0; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }

  // Decodes the block into an options struct with a Bind method. An empty block leaves the
  // struct's defaults (still validated).
  template <typename T>
  absl::Status Decode(T& out) const;

 private:
  friend class Binder;
  YAML::Node node_;
  std::string path_;
  std::shared_ptr<internal::Context> context_;
};

// Constraints on one field, checked when reading. Chained after Binder::Field:
//   b.Field("lr", lr).GreaterThan(0.0);
template <typename T>
class Check {
 public:
  Check() = default;
  Check(Binder* binder, const T* value, std::string path)
      : binder_(binder), value_(value), path_(std::move(path)) {}
  // Describing: constraints are recorded as rules of field `index` of `fields`.
  Check(std::vector<FieldInfo>* fields, size_t index) : fields_(fields), index_(index) {}

  Check& AtLeast(T lo) { return Require(reading() && !(*value_ >= lo), ">= ", lo); }
  Check& AtMost(T hi) { return Require(reading() && !(*value_ <= hi), "<= ", hi); }
  Check& GreaterThan(T lo) { return Require(reading() && !(*value_ > lo), "> ", lo); }
  Check& LessThan(T hi) { return Require(reading() && !(*value_ < hi), "< ", hi); }
  Check& InRange(T lo, T hi) { return AtLeast(lo).AtMost(hi); }
  Check& NotEmpty();
  // A free-form rule: `what` completes "<key> must ..." when `ok` is false. Only evaluated
  // for input, so `ok` may be computed from the field's value.
  Check& Must(bool ok, const std::string& what);

 private:
  bool reading() const { return binder_ != nullptr; }
  template <typename Bound>
  Check& Require(bool failed, const char* op, const Bound& bound);
  Binder* binder_ = nullptr;  // null when writing: constraints apply to input only
  const T* value_ = nullptr;
  std::string path_;
  std::vector<FieldInfo>* fields_ = nullptr;  // describing
  size_t index_ = 0;
};

// Walks an options struct's fields, either decoding them from a YAML node or emitting them.
class Binder {
 public:
  // Reading: `node` is the map for this struct (may be undefined: all defaults).
  Binder(YAML::Node node, std::string path, std::shared_ptr<internal::Context> context);
  // Writing.
  explicit Binder(YAML::Emitter* out);
  // Describing: each field is appended to `fields` under `path` (see DescribeFields).
  Binder(std::vector<FieldInfo>* fields, std::string path);

  bool reading() const { return out_ == nullptr && fields_ == nullptr; }

  // Binds a field of a supported type: bool, integers, float/double, std::string, Block,
  // options structs with Bind, and std::vector / std::optional / std::map<std::string, _>
  // of those.
  template <typename T>
  Check<T> Field(const char* key, T& value);

  // Binds an enum field spelled by name in YAML.
  template <typename E>
  Check<E> Enum(const char* key, E& value, std::initializer_list<std::pair<const char*, E>> names);

  // A key that has been renamed to `new_key` (in the same section): reading a config that
  // still has `old_key` is an error naming the new key ("sft.warmup_steps was renamed to
  // sft.lr_warmup_steps"), followed by `note` when given. Writing and describing skip it.
  void Renamed(const char* old_key, const char* new_key, const std::string& note = "");

  // Records an error about `path` (a full dotted key); used by Check and by custom rules.
  void Fail(const std::string& path, const std::string& message);

 private:
  template <typename T>
  friend class Check;
  friend class Block;
  friend class Document;

  template <typename T>
  void Decode(const YAML::Node& node, const std::string& path, T& value);
  template <typename T>
  void Emit(const T& value);
  template <typename T>
  void BindStruct(T& value);
  template <typename T>
  void DescribeField(const std::string& path, const T& value);
  template <typename T>
  static std::string TypeName();
  template <typename T>
  static std::string DefaultText(const T& value);
  std::string Child(const char* key) const;
  // Looks up `key` in this binder's map, remembering that the key is known.
  YAML::Node Lookup(const char* key);
  // After a struct is bound: reports keys of its map that no field claimed.
  void CheckUnknownKeys();

  // Scalar decoders; each reports its own error and leaves `value` as it was on failure.
  void DecodeScalar(const YAML::Node& node, const std::string& path, bool& value);
  void DecodeScalar(const YAML::Node& node, const std::string& path, int64_t& value);
  void DecodeScalar(const YAML::Node& node, const std::string& path, uint64_t& value);
  void DecodeScalar(const YAML::Node& node, const std::string& path, double& value);
  void DecodeScalar(const YAML::Node& node, const std::string& path, std::string& value);
  bool ExpectMap(const YAML::Node& node, const std::string& path);
  bool ExpectSequence(const YAML::Node& node, const std::string& path);
  void EmitScalar(bool value);
  void EmitScalar(int64_t value);
  void EmitScalar(uint64_t value);
  void EmitScalar(double value);
  void EmitScalar(const std::string& value);
  void EmitBlock(const Block& block);

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<internal::Context> context_;
  std::vector<std::string> known_keys_;
  YAML::Emitter* out_ = nullptr;
  std::vector<FieldInfo>* fields_ = nullptr;  // describing
};

// ---- Loading and writing -----------------------------------------------------------------

// A parsed YAML document plus where its parts came from, for error messages.
class Document {
 public:
  // Reads a YAML file. Errors: NotFound (cannot read), InvalidArgument (malformed YAML, with
  // file:line:column).
  static absl::StatusOr<Document> FromFile(const std::string& path);
  // `name` stands for the file in messages.
  static absl::StatusOr<Document> FromString(const std::string& yaml, const std::string& name);

  // Applies dotted `key=value` overrides (`trainer.lr=1e-5`, `rollout.stop=[1, 2]`). The
  // value is read as YAML. A malformed override is an InvalidArgument naming it.
  absl::Status ApplyOverrides(const std::vector<std::string>& overrides);

  // Decodes the whole document into `out`; all problems are reported at once, one per line.
  template <typename T>
  absl::Status Decode(T& out) const;

 private:
  Document();
  absl::Status Finish() const;  // turns collected errors into a Status
  YAML::Node root_;
  std::shared_ptr<internal::Context> context_;
};

template <typename T>
absl::StatusOr<T> LoadFile(const std::string& path,
                           const std::vector<std::string>& overrides = {}) {
  absl::StatusOr<Document> doc = Document::FromFile(path);
  if (!doc.ok()) return doc.status();
  if (absl::Status s = doc->ApplyOverrides(overrides); !s.ok()) return s;
  T out;
  if (absl::Status s = doc->Decode(out); !s.ok()) return s;
  return out;
}

template <typename T>
absl::StatusOr<T> LoadString(const std::string& yaml, const std::string& name,
                             const std::vector<std::string>& overrides = {}) {
  absl::StatusOr<Document> doc = Document::FromString(yaml, name);
  if (!doc.ok()) return doc.status();
  if (absl::Status s = doc->ApplyOverrides(overrides); !s.ok()) return s;
  T out;
  if (absl::Status s = doc->Decode(out); !s.ok()) return s;
  return out;
}

// The fully resolved options as a YAML document (every field, defaults included).
template <typename T>
std::string ToYaml(const T& options) {
  T copy = options;  // Bind takes a mutable reference; writing does not change it.
  YAML::Emitter out;
  Binder binder(&out);
  out << YAML::BeginMap;
  copy.Bind(binder);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// Every field of T and of its sections, depth first in Bind order, with the defaults of a
// default-constructed T. Cross-field rules (Validate) and rules that depend on other values
// are not listed.
template <typename T>
std::vector<FieldInfo> DescribeFields(const std::string& prefix = "") {
  std::vector<FieldInfo> fields;
  T value{};
  Binder binder(&fields, prefix);
  value.Bind(binder);
  return fields;
}

// ---- Implementation details --------------------------------------------------------------

namespace internal {
// Errors gathered while decoding, and the origin of overridden keys.
struct Context {
  std::string file;
  std::map<std::string, std::string> overrides;  // full key -> "key=value" as typed
  std::vector<std::string> errors;
  std::vector<std::pair<std::string, std::string>> unknown;  // (full key, location)
  std::vector<std::string> known_paths;                      // every bound key, for hints
  std::string Where(const std::string& path, const YAML::Node& node) const;
};
}  // namespace internal

namespace internal {
// A rule's text without the value it was checked against: "be x or y (got 'z')" -> "be x or y".
std::string WithoutGot(const std::string& what);
}  // namespace internal

template <typename T>
Check<T>& Check<T>::NotEmpty() {
  if (fields_ != nullptr) (*fields_)[index_].rules.push_back("not empty");
  if (binder_ != nullptr && value_->empty()) binder_->Fail(path_, "must not be empty");
  return *this;
}

template <typename T>
Check<T>& Check<T>::Must(bool ok, const std::string& what) {
  if (fields_ != nullptr) {
    (*fields_)[index_].rules.push_back(absl::StrCat("must ", internal::WithoutGot(what)));
  }
  if (binder_ != nullptr && !ok) binder_->Fail(path_, absl::StrCat("must ", what));
  return *this;
}

template <typename T>
template <typename Bound>
Check<T>& Check<T>::Require(bool failed, const char* op, const Bound& bound) {
  auto text = [](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      return internal::FormatDouble(v);
    } else {
      return std::to_string(v);
    }
  };
  if (fields_ != nullptr) (*fields_)[index_].rules.push_back(absl::StrCat(op, text(bound)));
  if (!failed) return *this;
  binder_->Fail(path_, absl::StrCat("must be ", op, text(bound), " (got ", text(*value_), ")"));
  return *this;
}

template <typename T>
Check<T> Binder::Field(const char* key, T& value) {
  if (fields_ != nullptr) {
    const size_t index = fields_->size();
    DescribeField(Child(key), value);
    return Check<T>(fields_, index);
  }
  if (!reading()) {
    *out_ << YAML::Key << key << YAML::Value;
    Emit(value);
    return Check<T>();
  }
  std::string path = Child(key);
  YAML::Node node = Lookup(key);
  if (node.IsDefined()) {
    Decode(node, path, value);
  } else if constexpr (internal::HasBind<T>::value) {
    Decode(YAML::Node(), path, value);  // absent section: defaults, still validated
  } else if constexpr (internal::IsOptional<T>::value) {
    value.reset();
  }
  return Check<T>(this, &value, path);
}

template <typename E>
Check<E> Binder::Enum(const char* key, E& value,
                      std::initializer_list<std::pair<const char*, E>> names) {
  if (fields_ != nullptr) {
    FieldInfo info{.path = Child(key), .type = "one of:", .default_value = "", .rules = {}};
    for (const auto& [name, v] : names) {
      absl::StrAppend(&info.type, info.type.back() == ':' ? " " : " | ", name);
      if (v == value && info.default_value.empty()) info.default_value = name;
    }
    fields_->push_back(std::move(info));
    return Check<E>(fields_, fields_->size() - 1);
  }
  if (!reading()) {
    for (const auto& [name, v] : names) {
      if (v == value) {
        *out_ << YAML::Key << key << YAML::Value << name;
        return Check<E>();
      }
    }
    *out_ << YAML::Key << key << YAML::Value << YAML::Null;
    return Check<E>();
  }
  std::string path = Child(key);
  YAML::Node node = Lookup(key);
  if (node.IsDefined()) {
    std::string text;
    DecodeScalar(node, path, text);
    bool found = false;
    std::string choices;
    for (const auto& [name, v] : names) {
      if (text == name) {
        value = v;
        found = true;
      }
      absl::StrAppend(&choices, choices.empty() ? "" : ", ", name);
    }
    if (!found && node.IsScalar()) {
      Fail(path, absl::StrCat("unknown value '", text, "' (choose one of: ", choices, ")"));
    }
  }
  return Check<E>(this, &value, path);
}

template <typename T>
void Binder::Decode(const YAML::Node& node, const std::string& path, T& value) {
  if constexpr (internal::HasBind<T>::value) {
    if (node.IsDefined() && !node.IsNull() && !ExpectMap(node, path)) return;
    Binder child(node, path, context_);
    child.BindStruct(value);
  } else if constexpr (internal::IsOptional<T>::value) {
    if (node.IsNull()) {
      value.reset();
    } else {
      typename T::value_type inner{};
      Decode(node, path, inner);
      value = std::move(inner);
    }
  } else if constexpr (internal::IsVector<T>::value) {
    if (!ExpectSequence(node, path)) return;
    T items;
    for (size_t i = 0; i < node.size(); ++i) {
      typename T::value_type item{};
      Decode(node[i], absl::StrCat(path, "[", i, "]"), item);
      items.push_back(std::move(item));
    }
    value = std::move(items);
  } else if constexpr (internal::IsStringMap<T>::value) {
    if (!ExpectMap(node, path)) return;
    T items;
    for (const auto& kv : node) {
      std::string name = kv.first.Scalar();
      typename T::mapped_type item{};
      Decode(kv.second, absl::StrCat(path, ".", name), item);
      items.emplace(name, std::move(item));
    }
    value = std::move(items);
  } else if constexpr (std::is_same_v<T, Block>) {
    value.node_ = node;  // shares the document's tree, keeping line numbers
    value.path_ = path;
    value.context_ = context_;
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
    DecodeScalar(node, path, value);
  } else if constexpr (std::is_floating_point_v<T>) {
    double v = value;
    DecodeScalar(node, path, v);
    value = static_cast<T>(v);
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    int64_t v = value;
    DecodeScalar(node, path, v);
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      Fail(path, absl::StrCat("value ", v, " does not fit in a ", sizeof(T) * 8, "-bit integer"));
      return;
    }
    value = static_cast<T>(v);
  } else if constexpr (std::is_integral_v<T>) {
    uint64_t v = value;
    DecodeScalar(node, path, v);
    if (v > std::numeric_limits<T>::max()) {
      Fail(path, absl::StrCat("value ", v, " does not fit in a ", sizeof(T) * 8, "-bit integer"));
      return;
    }
    value = static_cast<T>(v);
  } else {
    static_assert(sizeof(T) == 0, "unsupported config field type");
  }
}

template <typename T>
void Binder::BindStruct(T& value) {
  size_t errors_before = context_->errors.size();
  value.Bind(*this);
  CheckUnknownKeys();
  if constexpr (internal::HasValidate<T>::value) {
    // Cross-field rules only make sense when each field decoded cleanly.
    if (context_->errors.size() == errors_before) {
      absl::Status status = value.Validate();
      if (!status.ok()) Fail(path_, std::string(status.message()));
    }
  }
}

template <typename T>
void Binder::Emit(const T& value) {
  if constexpr (internal::HasBind<T>::value) {
    *out_ << YAML::BeginMap;
    Binder child(out_);
    T copy = value;
    copy.Bind(child);
    *out_ << YAML::EndMap;
  } else if constexpr (internal::IsOptional<T>::value) {
    if (value.has_value()) {
      Emit(*value);
    } else {
      *out_ << YAML::Null;
    }
  } else if constexpr (internal::IsVector<T>::value) {
    constexpr bool kFlow = !internal::HasBind<typename T::value_type>::value;
    if (kFlow) *out_ << YAML::Flow;
    *out_ << YAML::BeginSeq;
    for (const auto& item : value) Emit(item);
    *out_ << YAML::EndSeq;
  } else if constexpr (internal::IsStringMap<T>::value) {
    *out_ << YAML::BeginMap;
    for (const auto& [name, item] : value) {
      *out_ << YAML::Key << name << YAML::Value;
      Emit(item);
    }
    *out_ << YAML::EndMap;
  } else if constexpr (std::is_same_v<T, Block>) {
    EmitBlock(value);
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
    EmitScalar(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    EmitScalar(static_cast<double>(value));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    EmitScalar(static_cast<int64_t>(value));
  } else {
    EmitScalar(static_cast<uint64_t>(value));
  }
}

template <typename T>
std::string Binder::TypeName() {
  if constexpr (internal::HasBind<T>::value) {
    return "section";
  } else if constexpr (internal::IsOptional<T>::value) {
    return TypeName<typename T::value_type>() + " or null";
  } else if constexpr (internal::IsVector<T>::value) {
    return "list of " + TypeName<typename T::value_type>();
  } else if constexpr (internal::IsStringMap<T>::value) {
    return "map of " + TypeName<typename T::mapped_type>();
  } else if constexpr (std::is_same_v<T, Block>) {
    return "options block";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "bool";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "string";
  } else if constexpr (std::is_floating_point_v<T>) {
    return "number";
  } else {
    return "integer";
  }
}

template <typename T>
std::string Binder::DefaultText(const T& value) {
  if constexpr (internal::HasBind<T>::value) {
    return "";
  } else {
    YAML::Emitter out;
    out << YAML::Flow;
    Binder writer(&out);
    writer.Emit(value);
    return out.c_str();
  }
}

template <typename T>
void Binder::DescribeField(const std::string& path, const T& value) {
  fields_->push_back(
      {.path = path, .type = TypeName<T>(), .default_value = DefaultText(value), .rules = {}});
  // The fields of a section, of a list's or a map's items, and of an optional section.
  auto describe = [this](const std::string& at, auto item) {
    Binder child(fields_, at);
    item.Bind(child);
  };
  if constexpr (internal::HasBind<T>::value) {
    describe(path, value);
  } else if constexpr (internal::IsOptional<T>::value) {
    if constexpr (internal::HasBind<typename T::value_type>::value) {
      describe(path, typename T::value_type{});
    }
  } else if constexpr (internal::IsVector<T>::value) {
    if constexpr (internal::HasBind<typename T::value_type>::value) {
      describe(path + "[]", typename T::value_type{});
    }
  } else if constexpr (internal::IsStringMap<T>::value) {
    if constexpr (internal::HasBind<typename T::mapped_type>::value) {
      describe(path + ".<name>", typename T::mapped_type{});
    }
  }
}

template <typename T>
absl::Status Block::Decode(T& out) const {
  auto context = context_ ? context_ : std::make_shared<internal::Context>();
  size_t errors_before = context->errors.size();
  size_t unknown_before = context->unknown.size();
  Binder binder(node_, path_, context);
  binder.Decode(node_, path_, out);
  std::vector<std::string> errors(context->errors.begin() + errors_before, context->errors.end());
  for (size_t i = unknown_before; i < context->unknown.size(); ++i) {
    errors.push_back(absl::StrCat(context->unknown[i].second, ": unknown key '",
                                  context->unknown[i].first, "'"));
  }
  context->errors.resize(errors_before);
  context->unknown.resize(unknown_before);
  if (errors.empty()) return absl::OkStatus();
  std::string message;
  for (const auto& e : errors) absl::StrAppend(&message, message.empty() ? "" : "\n", e);
  return absl::InvalidArgumentError(message);
}

template <typename T>
absl::Status Document::Decode(T& out) const {
  context_->errors.clear();
  context_->unknown.clear();
  context_->known_paths.clear();
  Binder binder(root_, "", context_);
  binder.Decode(root_, "", out);
  return Finish();
}

}  // namespace ponder::config
