#include "reward/reward_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "ponder/v1/reward.grpc.pb.h"
#include "reward/internal/proto_convert.h"
#include "rpc/security.h"

namespace ponder::reward {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class ScoreReactor : public grpc::ServerUnaryReactor {
 public:
  explicit ScoreReactor(const RewardServerOptions& options)
      : cancel_(std::make_shared<std::atomic<bool>>(false)), on_call_(options.on_call) {}
  void OnDone() override { delete this; }
  void OnCancel() override { cancel_->store(true); }
  const CancelFlag& cancel() const { return cancel_; }
  void Done(const grpc::Status& status) {
    if (on_call_) {
      on_call_("Score", static_cast<absl::StatusCode>(status.error_code()), SecondsSince(start_));
    }
    Finish(status);
  }

 private:
  CancelFlag cancel_;
  std::function<void(const char*, absl::StatusCode, double)> on_call_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

class RewardServer::Service : public ponder::v1::RewardService::CallbackService {
 public:
  Service(std::shared_ptr<const Reward> reward, const RewardServerOptions& options)
      : reward_(std::move(reward)), auth_("RewardService", options.token), options_(options) {}

  int64_t in_flight() const { return in_flight_.load(); }

  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context,
                                  const ponder::v1::ScoreRequest* request,
                                  ponder::v1::ScoreResponse* response) override {
    auto* reactor = new ScoreReactor(options_);
    if (grpc::Status denied = auth_.Admit(*context, "Score", request->token()); !denied.ok()) {
      reactor->Done(denied);
      return reactor;
    }
    if (!(request->timeout_s() >= 0) || request->timeout_s() > 86400) {
      reactor->Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 absl::StrCat("timeout_s must be between 0 and 86400 seconds (got ",
                                              request->timeout_s(), ")")));
      return reactor;
    }
    std::vector<VerifyInput> items;
    std::vector<std::string> ids, scorers;
    items.reserve(request->items_size());
    ids.reserve(request->items_size());
    for (const auto& item : request->items()) {
      items.push_back(internal::ItemToInput(item));
      ids.push_back(item.id());
      if (options_.on_item) {
        const std::string& source = items.back().data_source;
        scorers.push_back(!request->verifier().empty() ? request->verifier()
                          : source.empty()             ? std::string("reward")
                                                       : "reward:" + source);
      }
    }
    const int64_t count = static_cast<int64_t>(items.size());
    in_flight_ += count;
    BatchOptions options;
    options.verifier = request->verifier();
    if (request->timeout_s() > 0) options.timeout = absl::Seconds(request->timeout_s());
    absl::Status status = reward_->ScoreBatchAsync(
        std::move(items), options,
        [this, reactor, response, count, ids = std::move(ids),
         scorers = std::move(scorers)](std::vector<ItemResult> results) {
          for (size_t i = 0; i < results.size(); ++i) {
            if (options_.on_item) options_.on_item(scorers[i], results[i]);
            internal::ItemResultToProto(results[i], ids[i], response->add_results());
          }
          in_flight_ -= count;
          reactor->Done(grpc::Status::OK);
        },
        reactor->cancel());
    if (!status.ok()) {
      in_flight_ -= count;
      reactor->Done(ToGrpc(status));
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* ListVerifiers(grpc::CallbackServerContext* context,
                                          const ponder::v1::ListVerifiersRequest* request,
                                          ponder::v1::ListVerifiersResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const auto start = std::chrono::steady_clock::now();
    if (grpc::Status denied = auth_.Admit(*context, "ListVerifiers"); !denied.ok()) {
      if (options_.on_call) {
        options_.on_call("ListVerifiers", absl::StatusCode::kUnauthenticated, SecondsSince(start));
      }
      reactor->Finish(denied);
      return reactor;
    }
    for (const VerifierInfo& info : reward_->ListVerifiers()) {
      auto* out = response->add_verifiers();
      out->set_name(info.name);
      out->set_description(info.description);
    }
    if (options_.on_call)
      options_.on_call("ListVerifiers", absl::StatusCode::kOk, SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  std::shared_ptr<const Reward> reward_;
  rpc::TokenCheck auth_;
  RewardServerOptions options_;
  std::atomic<int64_t> in_flight_{0};
};

absl::StatusOr<std::unique_ptr<RewardServer>> RewardServer::Start(
    const RewardServerOptions& options, std::shared_ptr<const Reward> reward) {
  size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == options.listen.size()) {
    return absl::InvalidArgumentError(absl::StrCat("listen address '", options.listen,
                                                   "' must be HOST:PORT, e.g. 0.0.0.0:50061"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      rpc::ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<RewardServer> server(new RewardServer());
  server->service_ = std::make_unique<Service>(std::move(reward), options);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  const int max_bytes = static_cast<int>(std::min<int64_t>(options.max_message_mb, 2000) << 20);
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or not local?)"));
  }
  server->address_ = absl::StrCat(options.listen.substr(0, colon), ":", server->port_);
  return server;
}

RewardServer::~RewardServer() { Shutdown(absl::Seconds(1)); }

void RewardServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
}

void RewardServer::SetServing(bool serving) {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void RewardServer::Wait() { server_->Wait(); }

int64_t RewardServer::items_in_flight() const { return service_->in_flight(); }

}  // namespace ponder::reward
