#include "reward/reward_backend.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "ponder/v1/reward.grpc.pb.h"
#include "reward/internal/proto_convert.h"

namespace ponder::reward {

absl::StatusOr<std::vector<ItemResult>> LocalRewardBackend::Score(
    const std::vector<VerifyInput>& items, const BatchOptions& options) {
  return reward_->ScoreBatch(items, options);
}

absl::StatusOr<std::vector<VerifierInfo>> LocalRewardBackend::ListVerifiers() {
  return reward_->ListVerifiers();
}

namespace {

absl::Status FromGrpc(const grpc::Status& status, const std::string& address) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("reward server ", address, ": ", status.error_message()));
}

// Errors that concern the request as a whole: every chunk would get the same answer.
bool IsRequestError(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::NOT_FOUND ||
         code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::FAILED_PRECONDITION ||
         code == grpc::StatusCode::PERMISSION_DENIED;
}

}  // namespace

struct GrpcRewardBackend::Impl {
  RewardClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ponder::v1::RewardService::Stub> stub;

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(options.rpc_timeout));
    if (!options.token.empty()) context.AddMetadata("authorization", "Bearer " + options.token);
  }
};

GrpcRewardBackend::GrpcRewardBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcRewardBackend::~GrpcRewardBackend() = default;

absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> GrpcRewardBackend::Create(
    const RewardClientOptions& options) {
  if (options.address.empty() || options.address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("reward server address '", options.address,
                                                   "' must be HOST:PORT, e.g. 10.0.0.5:50061"));
  }
  if (options.max_batch_items == 0) {
    return absl::InvalidArgumentError("max_batch_items must be >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  impl->channel =
      grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  impl->stub = ponder::v1::RewardService::NewStub(impl->channel);
  return std::unique_ptr<GrpcRewardBackend>(new GrpcRewardBackend(std::move(impl)));
}

absl::StatusOr<std::vector<ItemResult>> GrpcRewardBackend::Score(
    const std::vector<VerifyInput>& items, const BatchOptions& options) {
  const size_t chunk = impl_->options.max_batch_items;
  const size_t chunks = (items.size() + chunk - 1) / chunk;
  struct Call {
    grpc::ClientContext context;
    ponder::v1::ScoreRequest request;
    ponder::v1::ScoreResponse response;
    grpc::Status status;
    size_t begin = 0, end = 0;
  };
  std::vector<std::unique_ptr<Call>> calls;
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = chunks;
  for (size_t c = 0; c < chunks; ++c) {
    auto call = std::make_unique<Call>();
    call->begin = c * chunk;
    call->end = std::min(items.size(), call->begin + chunk);
    impl_->Prepare(call->context);
    call->request.set_verifier(options.verifier);
    call->request.set_timeout_s(absl::ToDoubleSeconds(options.timeout));
    call->request.set_token(impl_->options.token);
    for (size_t i = call->begin; i < call->end; ++i) {
      internal::InputToItem(items[i], std::to_string(i), call->request.add_items());
    }
    calls.push_back(std::move(call));
  }
  for (auto& call : calls) {
    Call* raw = call.get();
    impl_->stub->async()->Score(&raw->context, &raw->request, &raw->response,
                                [raw, &mu, &cv, &pending](grpc::Status status) {
                                  std::lock_guard<std::mutex> lock(mu);
                                  raw->status = std::move(status);
                                  if (--pending == 0) cv.notify_all();
                                });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
  }
  std::vector<ItemResult> results(items.size());
  for (const auto& call : calls) {
    if (!call->status.ok()) {
      absl::Status error = FromGrpc(call->status, impl_->options.address);
      if (IsRequestError(call->status.error_code())) return error;
      for (size_t i = call->begin; i < call->end; ++i) results[i].status = error;
      continue;
    }
    if (static_cast<size_t>(call->response.results_size()) != call->end - call->begin) {
      absl::Status error = absl::InternalError(absl::StrCat(
          "reward server ", impl_->options.address, " returned ", call->response.results_size(),
          " results for ", call->end - call->begin, " items"));
      for (size_t i = call->begin; i < call->end; ++i) results[i].status = error;
      continue;
    }
    for (size_t i = call->begin; i < call->end; ++i) {
      results[i] = internal::ProtoToItemResult(call->response.results(i - call->begin));
    }
  }
  return results;
}

absl::StatusOr<std::vector<VerifierInfo>> GrpcRewardBackend::ListVerifiers() {
  grpc::ClientContext context;
  impl_->Prepare(context);
  ponder::v1::ListVerifiersRequest request;
  ponder::v1::ListVerifiersResponse response;
  grpc::Status status = impl_->stub->ListVerifiers(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, impl_->options.address);
  std::vector<VerifierInfo> out;
  for (const auto& v : response.verifiers()) out.push_back({v.name(), v.description()});
  return out;
}

absl::StatusOr<std::unique_ptr<RewardBackend>> MakeRewardBackend(const RewardOptions& options) {
  if (!options.address.empty()) {
    RewardClientOptions client;
    client.address = options.address;
    client.token = options.token;
    client.rpc_timeout = absl::Seconds(options.rpc_timeout_s);
    PONDER_ASSIGN_OR_RETURN(std::unique_ptr<GrpcRewardBackend> backend,
                            GrpcRewardBackend::Create(client));
    return std::unique_ptr<RewardBackend>(std::move(backend));
  }
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Reward> reward, Reward::Create(options));
  return std::unique_ptr<RewardBackend>(
      std::make_unique<LocalRewardBackend>(std::shared_ptr<const Reward>(std::move(reward))));
}

}  // namespace ponder::reward
