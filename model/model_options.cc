#include "model/model_options.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ponder::model {

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFloat32:
      return "float32";
    case Precision::kBFloat16:
      return "bfloat16";
    case Precision::kFloat16:
      return "float16";
  }
  return "?";
}

void ModelOptions::Bind(config::Binder& b) {
  b.Field("path", path);
  b.Field("tokenizer", tokenizer);
  b.Enum("dtype", dtype,
         {{"float32", Precision::kFloat32},
          {"bfloat16", Precision::kBFloat16},
          {"float16", Precision::kFloat16}});
  b.Field("device", device)
      .Must(ValidateDeviceName(device).ok(), "be cpu, cuda or cuda:N (got '" + device + "')");
  b.Field("value_head", value_head);
  b.Field("logits_chunk_tokens", logits_chunk_tokens).AtLeast(1);
}

absl::Status ModelOptions::Validate() const {
  if (dtype == Precision::kFloat16 && device == "cpu") {
    return absl::InvalidArgumentError(
        "dtype float16 is not supported on the CPU (LibTorch has no CPU half-precision matrix "
        "products); use float32 or bfloat16, or a cuda device");
  }
  return absl::OkStatus();
}

absl::Status ValidateDeviceName(const std::string& device) {
  if (device == "cpu" || device == "cuda") return absl::OkStatus();
  int index = 0;
  if (absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index) &&
      index >= 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", device, "' (use cpu, cuda or cuda:N)"));
}

}  // namespace ponder::model
