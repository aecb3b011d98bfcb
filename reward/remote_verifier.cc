#include "reward/remote_verifier.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ponder/v1/reward.grpc.pb.h"
#include "reward/internal/proto_convert.h"

namespace ponder::reward {

void RemoteOptions::Bind(config::Binder& b) {
  b.Field("address", address)
      .NotEmpty()
      .Must(address.empty() || address.find(':') != std::string::npos,
            "be HOST:PORT, e.g. 127.0.0.1:50070");
  b.Field("verifier", verifier);
  b.Field("token", token);
  b.Field("timeout_s", timeout_s).GreaterThan(0.0);
}

struct RemoteVerifier::Impl {
  RemoteOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ponder::v1::RewardService::Stub> stub;
};

RemoteVerifier::RemoteVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteVerifier::~RemoteVerifier() = default;

absl::StatusOr<std::unique_ptr<RemoteVerifier>> RemoteVerifier::Create(const Options& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("remote: options.address must be set (HOST:PORT)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  impl->channel =
      grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  impl->stub = ponder::v1::RewardService::NewStub(impl->channel);
  return std::unique_ptr<RemoteVerifier>(new RemoteVerifier(std::move(impl)));
}

absl::StatusOr<VerifyResult> RemoteVerifier::Score(const VerifyInput& input) const {
  const RemoteOptions& o = impl_->options;
  absl::Time deadline = std::min(absl::Now() + absl::Seconds(o.timeout_s), input.deadline);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  if (!o.token.empty()) context.AddMetadata("authorization", "Bearer " + o.token);
  ponder::v1::ScoreRequest request;
  request.set_verifier(o.verifier);
  request.set_token(o.token);
  request.set_timeout_s(absl::ToDoubleSeconds(deadline - absl::Now()));
  internal::InputToItem(input, "0", request.add_items());
  ponder::v1::ScoreResponse response;
  grpc::Status status = impl_->stub->Score(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("remote verifier at ", o.address, ": ", status.error_message()));
  }
  if (response.results_size() != 1) {
    return absl::InternalError(absl::StrCat("remote verifier at ", o.address, " returned ",
                                            response.results_size(), " results for 1 item"));
  }
  ItemResult result = internal::ProtoToItemResult(response.results(0));
  if (!result.status.ok()) {
    return absl::Status(result.status.code(), absl::StrCat("remote verifier at ", o.address, ": ",
                                                           result.status.message()));
  }
  return result.result;
}

}  // namespace ponder::reward
