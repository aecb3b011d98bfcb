#include "trainer/data_parallel.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "trainer/distributed.h"

namespace ponder::trainer {
namespace {

// The metrics an update sums over micro-batches (trainer/learner_update.cc). Every rank sends
// every name, with a count of how many values it has, so that ranks without rows take part.
constexpr const char* kUpdateMetrics[] = {
    "actor/pg_loss", "actor/clipfrac", "actor/ppo_kl",   "actor/clipfrac_lower", "actor/kl_loss",
    "actor/entropy", "actor/nll_loss", "critic/vf_loss", "critic/vf_clipfrac"};

}  // namespace

DataParallel::DataParallel(RankGroup* group, double bucket_mb)
    : group_(group), bucket_bytes_(static_cast<int64_t>(bucket_mb * 1024 * 1024)) {}

int64_t DataParallel::rank() const { return group_->rank(); }
int64_t DataParallel::size() const { return group_->size(); }

std::vector<int64_t> DataParallel::Share(const std::vector<int64_t>& rows,
                                         const std::vector<int64_t>& lengths) const {
  double total = 0;
  for (int64_t r : rows) total += static_cast<double>(lengths[r]);
  // A row belongs to the rank whose slice of the token count holds the row's middle token.
  const double lo = total * static_cast<double>(rank()) / static_cast<double>(size());
  const double hi = total * static_cast<double>(rank() + 1) / static_cast<double>(size());
  std::vector<int64_t> mine;
  double before = 0;
  for (int64_t r : rows) {
    const double middle = before + 0.5 * static_cast<double>(lengths[r]);
    if (middle >= lo && middle < hi) mine.push_back(r);
    before += static_cast<double>(lengths[r]);
  }
  return mine;
}

absl::StatusOr<at::Tensor> DataParallel::Fill(const PackedBatch& b, int64_t max_tokens,
                                              const RowsFn& fn, const std::string& what) {
  std::vector<int64_t> all(b.size);
  for (int64_t i = 0; i < b.size; ++i) all[i] = i;
  absl::StatusOr<at::Tensor> out = FillRows(b, Share(all, b.lengths), max_tokens, fn);
  if (!out.ok()) return out.status();
  if (absl::Status s = Sum(*out, what); !s.ok()) return s;
  return out;
}

absl::Status DataParallel::Sum(at::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> tensors = {tensor};
  return group_->AllReduceSum(tensors, what);
}

absl::Status DataParallel::Sum(std::vector<double>& values, const std::string& what) {
  if (values.empty()) return absl::OkStatus();
  std::vector<at::Tensor> tensors = {at::tensor(values, at::kDouble).to(group_->device())};
  if (absl::Status s = group_->AllReduceSum(tensors, what); !s.ok()) return s;
  const at::Tensor cpu = tensors[0].cpu();
  const double* sums = cpu.data_ptr<double>();
  values.assign(sums, sums + values.size());
  return absl::OkStatus();
}

absl::Status DataParallel::SumUpdate(std::map<std::string, double>& sums, bool& finite,
                                     const std::string& what) {
  for (const auto& [name, value] : sums) {
    if (std::find_if(std::begin(kUpdateMetrics), std::end(kUpdateMetrics),
                     [&](const char* k) { return name == k; }) == std::end(kUpdateMetrics)) {
      return absl::InternalError(
          absl::StrCat("metric ", name, " is not summed over ranks: add it to kUpdateMetrics in ",
                       "trainer/data_parallel.cc"));
    }
  }
  std::vector<double> values = {finite ? 0.0 : 1.0};
  for (const char* name : kUpdateMetrics) {
    auto it = sums.find(name);
    values.push_back(it == sums.end() ? 0.0 : it->second);
    values.push_back(it == sums.end() ? 0.0 : 1.0);
  }
  if (absl::Status s = Sum(values, what); !s.ok()) return s;
  finite = values[0] == 0.0;
  sums.clear();
  for (size_t i = 0; i < std::size(kUpdateMetrics); ++i) {
    if (values[2 + 2 * i] > 0) sums[kUpdateMetrics[i]] = values[1 + 2 * i];
  }
  return absl::OkStatus();
}

absl::Status DataParallel::FromRankZero(std::vector<at::Tensor>& tensors, const std::string& what) {
  return group_->Broadcast(tensors, what);
}

std::unique_ptr<GradientReducer> DataParallel::MakeReducer(
    const std::vector<at::Tensor>& parameters, const std::string& name) const {
  return std::make_unique<GradientReducer>(group_, parameters, bucket_bytes_, name);
}

}  // namespace ponder::trainer
