// Conversions between the rollout types (rollout/rollout.h) and their ponder.v1 messages, for
// the gRPC server and client. The engine never sees these messages.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ponder/v1/rollout.pb.h"
#include "rollout/rollout.h"

namespace ponder::rollout {

// Wire -> plain. Proto fields left at 0 where 0 is not a meaningful value take their "off"
// value (top_p, repetition_penalty) or the server's default (max_new_tokens from `defaults`).
// Values out of range are kept, for ValidateRequest to reject with a message.
GenerateRequest FromProto(const v1::GenerateRequest& in, const SamplingOptions& defaults);
Trajectory FromProto(const v1::Trajectory& in);
BackendStatus FromProto(const v1::RolloutStatus& in);

// Plain -> wire.
void ToProto(const GenerateRequest& in, v1::GenerateRequest* out);
void ToProto(const Trajectory& in, v1::Trajectory* out);
void ToProto(const BackendStatus& in, v1::RolloutStatus* out);

// DType <-> WeightDType; integer dtypes are an InvalidArgument naming `tensor`.
absl::StatusOr<WeightDType> FromProto(v1::DType dtype, std::string_view tensor);
v1::DType ToProto(WeightDType dtype);

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ponder::rollout
