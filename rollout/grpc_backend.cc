#include "rollout/grpc_backend.h"

#include <grpcpp/grpcpp.h>

#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "ponder/v1/rollout.grpc.pb.h"
#include "rollout/proto_convert.h"
#include "rollout/weight_update.h"
#include "rpc/channel.h"
#include "rpc/security.h"

namespace ponder::rollout {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// One Generate call: reads trajectories until the server ends the stream. Owned by itself
// until OnDone, and by the caller's GenerateCall handle (for Cancel).
class GenerateStream : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  GenerateStream(GenerateCallbacks callbacks) : callbacks_(std::move(callbacks)) {}

  void Start(v1::RolloutService::Stub* stub, std::shared_ptr<GenerateStream> self,
             const GenerateRequest& request, absl::Duration default_timeout,
             const std::string& token) {
    self_ = std::move(self);
    rpc::AttachToken(context_, token);
    ToProto(request, &request_);
    context_.set_deadline(request.deadline == absl::InfiniteFuture()
                              ? DeadlineAfter(default_timeout)
                              : absl::ToChronoTime(request.deadline));
    stub->async()->Generate(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    if (callbacks_.on_trajectory) callbacks_.on_trajectory(FromProto(response_.trajectory()));
    StartRead(&response_);
  }

  // on_done comes last and after our own reference is dropped: the caller may tear down the
  // channel (and this stream, through its handle) as soon as it hears of the end.
  void OnDone(const grpc::Status& status) override {
    auto on_done = std::move(callbacks_.on_done);
    callbacks_ = {};
    const absl::Status result = FromGrpcStatus(status);
    self_.reset();  // `this` may be gone after this line: use locals only
    if (on_done) on_done(result);
  }

  void Cancel() { context_.TryCancel(); }

 private:
  GenerateCallbacks callbacks_;
  grpc::ClientContext context_;
  v1::GenerateRequest request_;
  v1::GenerateResponse response_;
  std::shared_ptr<GenerateStream> self_;
};

class StreamHandle : public GenerateCall {
 public:
  explicit StreamHandle(std::shared_ptr<GenerateStream> stream) : stream_(std::move(stream)) {}
  void Cancel() override { stream_->Cancel(); }

 private:
  std::shared_ptr<GenerateStream> stream_;
};

}  // namespace

class GrpcRolloutBackend::Impl {
 public:
  std::mutex mu;
  std::set<grpc::ClientContext*> updates;  // in progress, guarded by mu
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::RolloutService::Stub> stub;
  GrpcBackendOptions options;
  std::string address;
};

absl::StatusOr<std::unique_ptr<GrpcRolloutBackend>> GrpcRolloutBackend::Connect(
    const std::string& address, const GrpcBackendOptions& options) {
  auto impl = std::make_unique<Impl>();
  rpc::ChannelOptions channel_options;
  channel_options.tls = options.tls;
  channel_options.authority = options.authority;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rpc::MakeChannel(address, channel_options);
  if (!channel.ok()) return channel.status();
  impl->channel = *std::move(channel);
  absl::Status connected =
      rpc::WaitConnected(*impl->channel, "rollout worker", address, options.connect_timeout);
  if (!connected.ok()) return connected;
  impl->stub = v1::RolloutService::NewStub(impl->channel);
  impl->options = options;
  impl->address = address;
  return std::unique_ptr<GrpcRolloutBackend>(new GrpcRolloutBackend(std::move(impl)));
}

GrpcRolloutBackend::GrpcRolloutBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcRolloutBackend::~GrpcRolloutBackend() = default;

absl::StatusOr<std::shared_ptr<GenerateCall>> GrpcRolloutBackend::StartGenerate(
    GenerateRequest request, GenerateCallbacks callbacks) {
  auto stream = std::make_shared<GenerateStream>(std::move(callbacks));
  stream->Start(impl_->stub.get(), stream, request, impl_->options.generate_timeout,
                impl_->options.token);
  return std::shared_ptr<GenerateCall>(std::make_shared<StreamHandle>(std::move(stream)));
}

absl::Status GrpcRolloutBackend::UpdateWeights(int64_t version,
                                               const std::vector<WeightTensor>& tensors) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(impl_->options.update_timeout));
  rpc::AttachToken(context, impl_->options.token);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->updates.insert(&context);
  }
  struct Forget {
    Impl* impl;
    grpc::ClientContext* context;
    ~Forget() {
      std::lock_guard<std::mutex> lock(impl->mu);
      impl->updates.erase(context);
    }
  } forget{impl_.get(), &context};
  v1::UpdateWeightsResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::UpdateWeightsRequest>> writer =
      impl_->stub->UpdateWeights(&context, &response);
  uint64_t total = 0;
  for (const WeightTensor& t : tensors) total += t.bytes;
  v1::UpdateWeightsRequest message;
  message.mutable_begin()->set_version(version);
  message.mutable_begin()->set_num_tensors(static_cast<uint32_t>(tensors.size()));
  message.mutable_begin()->set_total_bytes(total);
  bool open = writer->Write(message);
  uint32_t crc = 0;
  if (open) {
    open = ForEachWeightChunk(tensors, impl_->options.chunk_bytes, [&](const WeightChunk& c) {
      v1::TensorChunk* chunk = message.mutable_chunk();
      chunk->set_name(std::string(c.name));
      chunk->set_dtype(ToProto(c.dtype));
      chunk->mutable_shape()->Assign(c.shape.begin(), c.shape.end());
      chunk->set_offset(c.offset);
      chunk->set_total_bytes(c.total_bytes);
      chunk->set_data(c.data.data(), c.data.size());
      crc = Crc32cExtend(crc, c.data.data(), c.data.size());
      return writer->Write(message);
    });
  }
  if (open) {
    message.mutable_commit()->set_crc32c(crc);
    open = writer->Write(message);
  }
  writer->WritesDone();
  // When a write failed the server has already ended the call; Finish gives its reason.
  return Annotate(FromGrpcStatus(writer->Finish()), "rollout worker " + impl_->address);
}

absl::StatusOr<BackendStatus> GrpcRolloutBackend::GetStatus() {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(impl_->options.status_timeout));
  rpc::AttachToken(context, impl_->options.token);
  v1::GetStatusRequest request;
  v1::RolloutStatus response;
  absl::Status status = FromGrpcStatus(impl_->stub->GetStatus(&context, request, &response));
  if (!status.ok()) return Annotate(status, "rollout worker " + impl_->address);
  return FromProto(response);
}

absl::Status GrpcRolloutBackend::UpdateWeightsShared(int64_t version,
                                                     const std::vector<WeightTensor>& tensors,
                                                     const SharedWeightsFile& file,
                                                     uint32_t crc32c) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(impl_->options.update_timeout));
  rpc::AttachToken(context, impl_->options.token);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->updates.insert(&context);
  }
  v1::UpdateWeightsResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::UpdateWeightsRequest>> writer =
      impl_->stub->UpdateWeights(&context, &response);
  uint64_t total = 0;
  for (const WeightTensor& t : tensors) total += t.bytes;
  v1::UpdateWeightsRequest message;
  message.mutable_begin()->set_version(version);
  message.mutable_begin()->set_num_tensors(static_cast<uint32_t>(tensors.size()));
  message.mutable_begin()->set_total_bytes(total);
  if (writer->Write(message)) {
    v1::SharedWeights* shared = message.mutable_shared();
    shared->set_path(file.path());
    shared->set_crc32c(crc32c);
    for (const WeightTensor& t : tensors) {
      v1::TensorChunk* c = shared->add_tensors();
      c->set_name(t.name);
      c->set_dtype(ToProto(t.dtype));
      c->mutable_shape()->Assign(t.shape.begin(), t.shape.end());
      c->set_offset(static_cast<uint64_t>(static_cast<const char*>(t.data) - file.data()));
      c->set_total_bytes(t.bytes);
    }
    writer->Write(message);
  }
  writer->WritesDone();
  absl::Status status = FromGrpcStatus(writer->Finish());
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->updates.erase(&context);
  }
  return Annotate(status, "rollout worker " + impl_->address);
}

void GrpcRolloutBackend::CancelUpdates() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (grpc::ClientContext* context : impl_->updates) context->TryCancel();
}

absl::Status GrpcRolloutBackend::CheckHealth(absl::Duration timeout) {
  return Annotate(rpc::CheckHealth(impl_->channel, timeout), "rollout worker " + impl_->address);
}

const std::string& GrpcRolloutBackend::address() const { return impl_->address; }

}  // namespace ponder::rollout
