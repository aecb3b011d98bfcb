#include "rollout/service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ponder/v1/rollout.grpc.pb.h"
#include "rollout/proto_convert.h"
#include "rollout/shared_weights.h"
#include "rollout/weight_update.h"
#include "rpc/security.h"

namespace ponder::rollout {
namespace {

using CallObserver = std::function<void(const char*, absl::StatusCode, double)>;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

absl::StatusCode FromGrpcCode(const grpc::Status& status) {
  return static_cast<absl::StatusCode>(status.error_code());
}

// FAILED_PRECONDITION when the request expects a weight version the backend does not hold.
absl::Status HoldsVersion(RolloutBackend* backend, const GenerateRequest& request) {
  if (!request.expect_weight_version) return absl::OkStatus();
  absl::StatusOr<BackendStatus> status = backend->GetStatus();
  if (!status.ok()) return status.status();
  if (status->weight_version == *request.expect_weight_version) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("this worker holds weight version ", status->weight_version, ", not ",
                   *request.expect_weight_version, " (restarted?): it needs the weights again"));
}

// Generate: the backend's callbacks queue trajectories; one write is in flight at a time.
// The reactor is shared by gRPC (until OnDone) and the backend's callbacks (until the backend
// drops them), so it lives as long as either needs it.
class GenerateReactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  static void Start(RolloutBackend* backend, grpc::CallbackServerContext* context,
                    const v1::GenerateRequest* proto, const ServerOptions& options,
                    grpc::ServerWriteReactor<v1::GenerateResponse>** out) {
    const SamplingOptions& defaults = options.defaults;
    auto self = std::shared_ptr<GenerateReactor>(new GenerateReactor(options.on_call));
    self->self_ = self;
    *out = self.get();
    GenerateRequest request = FromProto(*proto, defaults);
    if (absl::Status held = HoldsVersion(backend, request); !held.ok()) {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->backend_done_ = true;
      self->status_ = ToGrpcStatus(held);
      self->MaybeWriteLocked();
      return;
    }
    const auto deadline = context->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      request.deadline = absl::FromChrono(deadline);
    }
    GenerateCallbacks callbacks;
    callbacks.on_trajectory = [self](Trajectory t) { self->Enqueue(std::move(t)); };
    callbacks.on_done = [self](absl::Status status) { self->BackendDone(std::move(status)); };
    absl::StatusOr<std::shared_ptr<GenerateCall>> call =
        backend->StartGenerate(std::move(request), std::move(callbacks));
    std::lock_guard<std::mutex> lock(self->mu_);
    if (!call.ok()) {
      self->backend_done_ = true;
      self->status_ = ToGrpcStatus(call.status());
      self->MaybeWriteLocked();
      return;
    }
    self->call_ = *call;
    if (self->cancelled_) self->call_->Cancel();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {  // the client is gone: stop generating for it
      broken_ = true;
      queue_.clear();
      if (call_) call_->Cancel();
    }
    MaybeWriteLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (call_) call_->Cancel();
  }

  void OnDone() override {
    std::shared_ptr<GenerateReactor> keep;
    std::lock_guard<std::mutex> lock(mu_);
    keep = std::move(self_);  // freed when the backend has dropped its callbacks too
  }

 private:
  explicit GenerateReactor(const CallObserver& on_call) : on_call_(on_call) {}

  void Enqueue(Trajectory t) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_ || cancelled_) return;
    v1::GenerateResponse response;
    ToProto(t, response.mutable_trajectory());
    queue_.push_back(std::move(response));
    MaybeWriteLocked();
  }

  void BackendDone(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    backend_done_ = true;
    status_ = ToGrpcStatus(status);
    MaybeWriteLocked();
  }

  void MaybeWriteLocked() {
    if (writing_ || finished_) return;
    if (!queue_.empty() && !broken_) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      StartWrite(&current_);
    } else if (backend_done_) {
      finished_ = true;
      if (on_call_) on_call_("Generate", FromGrpcCode(status_), SecondsSince(start_));
      Finish(status_);
    }
  }

  const CallObserver on_call_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::shared_ptr<GenerateReactor> self_;
  std::shared_ptr<GenerateCall> call_;
  std::deque<v1::GenerateResponse> queue_;
  v1::GenerateResponse current_;
  bool writing_ = false, finished_ = false, backend_done_ = false;
  bool cancelled_ = false, broken_ = false;
  grpc::Status status_;
};

// UpdateWeights: reads the stream into a WeightUpdateAssembler; applies on a worker thread
// (the backend waits for a step boundary) once the client has finished sending.
class UpdateWeightsReactor : public grpc::ServerReadReactor<v1::UpdateWeightsRequest> {
 public:
  UpdateWeightsReactor(RolloutBackend* backend, v1::UpdateWeightsResponse* response,
                       const ServerOptions& options)
      : backend_(backend),
        response_(response),
        assembler_(options.max_update_bytes),
        on_call_(options.on_call) {
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side
      if (!assembler_.committed() && !shared_) {
        Done(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("UpdateWeights: the stream ended before the commit "
                         "message (",
                         assembler_.bytes_received(), " bytes received); nothing applied")));
        return;
      }
      std::thread([this] { Apply(); }).detach();
      return;
    }
    absl::Status status;
    switch (message_.part_case()) {
      case v1::UpdateWeightsRequest::kBegin:
        status = assembler_.Begin(message_.begin().version(), message_.begin().num_tensors(),
                                  message_.begin().total_bytes());
        break;
      case v1::UpdateWeightsRequest::kChunk: {
        const v1::TensorChunk& c = message_.chunk();
        absl::StatusOr<WeightDType> dtype = FromProto(c.dtype(), c.name());
        if (!dtype.ok()) {
          status = dtype.status();
          break;
        }
        WeightChunk chunk;
        chunk.name = c.name();
        chunk.dtype = *dtype;
        chunk.shape.assign(c.shape().begin(), c.shape().end());
        chunk.offset = c.offset();
        chunk.total_bytes = c.total_bytes();
        chunk.data = c.data();
        status = assembler_.AddChunk(chunk);
        break;
      }
      case v1::UpdateWeightsRequest::kCommit: {
        absl::StatusOr<std::vector<WeightTensor>> tensors =
            assembler_.Commit(message_.commit().crc32c());
        if (tensors.ok()) {
          tensors_ = std::move(*tensors);
        } else {
          status = tensors.status();
        }
        break;
      }
      case v1::UpdateWeightsRequest::kShared:
        status = MapShared(message_.shared());
        break;
      default:
        status = absl::InvalidArgumentError("UpdateWeights: an empty stream message");
    }
    if (!status.ok()) {
      Done(ToGrpcStatus(status));
      return;
    }
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  void Apply() {
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = backend_->UpdateWeights(assembler_.version(), tensors_);
    tensors_.clear();
    if (status.ok()) {
      response_->set_version(assembler_.version());
      response_->set_bytes_received(assembler_.bytes_received());
      response_->set_apply_seconds(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    Done(ToGrpcStatus(status));  // the last use of `this`
  }

  void Done(const grpc::Status& status) {
    if (on_call_) on_call_("UpdateWeights", FromGrpcCode(status), SecondsSince(start_));
    Finish(status);
  }

  // The tensors of a `shared` part (rollout/shared_weights.h), mapped and checked.
  absl::Status MapShared(const v1::SharedWeights& shared) {
    if (!assembler_.begun() || shared_ || assembler_.bytes_received() > 0) {
      return absl::InvalidArgumentError(
          "UpdateWeights: shared weights must come right after the begin message, once");
    }
    std::vector<SharedTensor> layout;
    for (const v1::TensorChunk& c : shared.tensors()) {
      absl::StatusOr<WeightDType> dtype = FromProto(c.dtype(), c.name());
      if (!dtype.ok()) return dtype.status();
      layout.push_back({.name = c.name(),
                        .dtype = *dtype,
                        .shape = {c.shape().begin(), c.shape().end()},
                        .offset = c.offset(),
                        .bytes = c.total_bytes()});
    }
    absl::StatusOr<std::vector<WeightTensor>> tensors =
        MapSharedWeights(shared.path(), layout, shared.crc32c());
    if (!tensors.ok()) return tensors.status();
    tensors_ = *std::move(tensors);
    shared_ = true;
    return absl::OkStatus();
  }

  RolloutBackend* backend_;
  v1::UpdateWeightsResponse* response_;
  bool shared_ = false;
  WeightUpdateAssembler assembler_;
  const CallObserver on_call_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  v1::UpdateWeightsRequest message_;
  std::vector<WeightTensor> tensors_;
};

// A call turned away before it started (a missing or wrong token).
template <typename Base>
class Refused : public Base {
 public:
  explicit Refused(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

class RolloutServiceImpl final : public v1::RolloutService::CallbackService {
 public:
  RolloutServiceImpl(RolloutBackend* backend, const ServerOptions& options)
      : backend_(backend), options_(options), auth_("RolloutService", options.token) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override {
    if (grpc::Status denied = Admit(*context, "Generate"); !denied.ok()) {
      return new Refused<grpc::ServerWriteReactor<v1::GenerateResponse>>(denied);
    }
    grpc::ServerWriteReactor<v1::GenerateResponse>* reactor = nullptr;
    GenerateReactor::Start(backend_, context, request, options_, &reactor);
    return reactor;
  }

  grpc::ServerReadReactor<v1::UpdateWeightsRequest>* UpdateWeights(
      grpc::CallbackServerContext* context, v1::UpdateWeightsResponse* response) override {
    if (grpc::Status denied = Admit(*context, "UpdateWeights"); !denied.ok()) {
      return new Refused<grpc::ServerReadReactor<v1::UpdateWeightsRequest>>(denied);
    }
    return new UpdateWeightsReactor(backend_, response, options_);
  }

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::RolloutStatus* response) override {
    const auto start = std::chrono::steady_clock::now();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status denied = Admit(*context, "GetStatus"); !denied.ok()) {
      reactor->Finish(denied);
      return reactor;
    }
    absl::StatusOr<BackendStatus> status = backend_->GetStatus();
    if (status.ok()) ToProto(*status, response);
    if (options_.on_call)
      options_.on_call("GetStatus", status.status().code(), SecondsSince(start));
    reactor->Finish(ToGrpcStatus(status.status()));
    return reactor;
  }

 private:
  // The token check; a refused call is reported to on_call (UNAUTHENTICATED) like any other.
  grpc::Status Admit(const grpc::CallbackServerContext& context, const char* method) {
    grpc::Status denied = auth_.Admit(context, method);
    if (!denied.ok() && options_.on_call) {
      options_.on_call(method, absl::StatusCode::kUnauthenticated, 0.0);
    }
    return denied;
  }

  RolloutBackend* backend_;
  ServerOptions options_;
  rpc::TokenCheck auth_;
};

}  // namespace

class RolloutServer::Impl {
 public:
  std::unique_ptr<RolloutServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::mutex mu;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<RolloutServer>> RolloutServer::Start(RolloutBackend* backend,
                                                                    const ServerOptions& options) {
  if (backend == nullptr) return absl::InvalidArgumentError("RolloutServer: no backend");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      rpc::ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<RolloutServiceImpl>(backend, options);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, *credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Two workers on one port would silently split the traffic: refuse a port in use.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on '", options.listen, "' (in use, or not HOST:PORT)"));
  }
  std::unique_ptr<RolloutServer> server(new RolloutServer());
  server->impl_ = std::move(impl);
  server->port_ = port;
  const std::string& listen = options.listen;
  const size_t colon = listen.rfind(':');
  server->address_ =
      absl::StrCat(colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);
  return server;
}

RolloutServer::~RolloutServer() { Shutdown(); }

void RolloutServer::SetServing(bool serving) {
  if (grpc::HealthCheckServiceInterface* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void RolloutServer::Shutdown() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  // Running calls are cancelled at once (their reactors cancel the backend's work).
  impl_->server->Shutdown(std::chrono::system_clock::now());
}

void RolloutServer::Wait() { impl_->server->Wait(); }

}  // namespace ponder::rollout
