#include "trainer/step_message.h"

#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace ponder::trainer {
namespace {

constexpr char kMagic[4] = {'P', 'S', 'T', 'P'};
constexpr uint32_t kVersion = 1;

class Writer {
 public:
  template <typename T>
  void Put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  template <typename T>
  void PutVector(const std::vector<T>& values) {
    Put<uint64_t>(values.size());
    out_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  template <typename T>
  absl::Status Get(T* value, const char* what) {
    if (bytes_.size() - at_ < sizeof(T)) return Short(what, sizeof(T));
    std::memcpy(value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return absl::OkStatus();
  }
  template <typename T>
  absl::Status GetVector(std::vector<T>* values, const char* what) {
    uint64_t n = 0;
    if (absl::Status s = Get(&n, what); !s.ok()) return s;
    if (n > (bytes_.size() - at_) / sizeof(T)) return Short(what, n * sizeof(T));
    values->resize(n);
    std::memcpy(values->data(), bytes_.data() + at_, n * sizeof(T));
    at_ += n * sizeof(T);
    return absl::OkStatus();
  }
  size_t remaining() const { return bytes_.size() - at_; }
  size_t at() const { return at_; }

 private:
  absl::Status Short(const char* what, uint64_t need) const {
    return absl::DataLossError(absl::StrCat("step message: ", what, " at byte ", at_, " needs ",
                                            need, " bytes, ", bytes_.size() - at_, " remain"));
  }
  const std::string& bytes_;
  size_t at_ = 0;
};

}  // namespace

std::string EncodeStepMessage(const StepMessage& message) {
  Writer w;
  for (char c : kMagic) w.Put(c);
  w.Put(kVersion);
  w.Put(static_cast<uint8_t>(message.kind));
  w.Put<int64_t>(message.step);
  w.Put<uint64_t>(message.batch.size());
  for (const Trajectory& t : message.batch) {
    w.Put<int64_t>(t.group);
    w.Put<double>(t.score);
    w.Put<uint8_t>(t.correct.has_value() ? (*t.correct ? 2 : 1) : 0);
    w.Put<uint8_t>(t.truncated ? 1 : 0);
    w.PutVector(t.prompt_ids);
    w.PutVector(t.response_ids);
    w.PutVector(t.behaviour_log_probs);
  }
  return w.Take();
}

absl::StatusOr<StepMessage> DecodeStepMessage(const std::string& bytes) {
  Reader r(bytes);
  char magic[4];
  uint32_t version = 0;
  for (char& c : magic) {
    if (absl::Status s = r.Get(&c, "the header"); !s.ok()) return s;
  }
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("step message: not a step message (bad magic)");
  }
  if (absl::Status s = r.Get(&version, "the version"); !s.ok()) return s;
  if (version != kVersion) {
    return absl::DataLossError(absl::StrCat("step message: version ", version,
                                            ", this ponder "
                                            "reads version ",
                                            kVersion, " (every rank must run the same ponder)"));
  }
  StepMessage m;
  uint8_t kind = 0;
  uint64_t n = 0;
  if (absl::Status s = r.Get(&kind, "the kind"); !s.ok()) return s;
  if (kind < static_cast<uint8_t>(StepMessage::Kind::kBatch) ||
      kind > static_cast<uint8_t>(StepMessage::Kind::kCancel)) {
    return absl::DataLossError(absl::StrCat("step message: unknown kind ", int{kind}));
  }
  m.kind = static_cast<StepMessage::Kind>(kind);
  if (absl::Status s = r.Get(&m.step, "the step"); !s.ok()) return s;
  if (absl::Status s = r.Get(&n, "the batch size"); !s.ok()) return s;
  // Each trajectory takes at least 42 bytes: no allocation from a corrupt count.
  if (n > r.remaining() / 42) {
    return absl::DataLossError(
        absl::StrCat("step message: ", n, " trajectories cannot fit in ", r.remaining(), " bytes"));
  }
  m.batch.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    Trajectory& t = m.batch[i];
    uint8_t correct = 0, truncated = 0;
    absl::Status s = r.Get(&t.group, "a group");
    if (s.ok()) s = r.Get(&t.score, "a score");
    if (s.ok()) s = r.Get(&correct, "a verdict");
    if (s.ok()) s = r.Get(&truncated, "a truncation flag");
    if (s.ok()) s = r.GetVector(&t.prompt_ids, "prompt ids");
    if (s.ok()) s = r.GetVector(&t.response_ids, "response ids");
    if (s.ok()) s = r.GetVector(&t.behaviour_log_probs, "behaviour log-probs");
    if (!s.ok()) return absl::DataLossError(absl::StrCat(s.message(), " (trajectory ", i, ")"));
    if (correct > 2 || truncated > 1) {
      return absl::DataLossError(
          absl::StrCat("step message: trajectory ", i, " has a bad verdict or truncation flag"));
    }
    if (correct > 0) t.correct = correct == 2;
    t.truncated = truncated == 1;
  }
  if (r.remaining() != 0) {
    return absl::DataLossError(absl::StrCat("step message: ", r.remaining(),
                                            " bytes left over after ", n, " trajectories"));
  }
  return m;
}

}  // namespace ponder::trainer
