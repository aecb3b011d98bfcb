// GrpcRewardBackend: RewardService servers over gRPC, with retries across servers.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "ponder/v1/reward.grpc.pb.h"
#include "reward/internal/proto_convert.h"
#include "reward/reward_backend.h"
#include "rpc/channel.h"
#include "rpc/security.h"

namespace ponder::reward {
namespace {

absl::Status FromGrpc(const grpc::Status& status, const std::string& address) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("reward server ", address, ": ", status.error_message()));
}

// Errors that concern the request as a whole: every server would give the same answer.
bool IsRequestError(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::NOT_FOUND ||
         code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::FAILED_PRECONDITION ||
         code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNIMPLEMENTED;
}

struct Server {
  rpc::Endpoint endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ponder::v1::RewardService::Stub> stub;
  int64_t in_flight = 0;  // items
  int64_t served = 0;
  int64_t failures = 0;
  absl::Time down_until = absl::InfinitePast();  // after a failure: others are preferred
  absl::Time last_answer = absl::Now();
  std::string last_error;
  bool gone = false;  // no longer among the resolved addresses
};

}  // namespace

struct GrpcRewardBackend::Impl {
  RewardClientOptions options;
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Server>> servers;  // guarded by mu
  absl::Time resolved_at = absl::InfinitePast();
  RewardCallCounts counts;  // guarded by mu
  std::mt19937_64 rng{0x5EED};

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.rpc_timeout));
    rpc::AttachToken(context, options.token);
  }

  // Connects a server; at start-up (`wait`) it must answer its health service and accept
  // the token within connect_timeout.
  absl::StatusOr<std::unique_ptr<Server>> Connect(const rpc::Endpoint& endpoint, bool wait) {
    auto server = std::make_unique<Server>();
    server->endpoint = endpoint;
    rpc::ChannelOptions channel;
    channel.tls = options.tls;
    channel.authority = endpoint.authority;
    channel.max_receive_message_bytes = 256 << 20;
    channel.max_send_message_bytes = 256 << 20;
    PONDER_ASSIGN_OR_RETURN(server->channel, rpc::MakeChannel(endpoint.address, channel));
    server->stub = ponder::v1::RewardService::NewStub(server->channel);
    if (!wait) return server;
    const std::string& address = endpoint.address;
    PONDER_RETURN_IF_ERROR(
        rpc::WaitConnected(*server->channel, "reward server", address, options.connect_timeout));
    if (absl::Status health = rpc::CheckHealth(server->channel, options.connect_timeout);
        !health.ok()) {
      return Annotate(health, absl::StrCat("reward server ", address));
    }
    grpc::ClientContext context;
    Prepare(context);
    ponder::v1::ListVerifiersRequest request;
    ponder::v1::ListVerifiersResponse response;
    grpc::Status status = server->stub->ListVerifiers(&context, request, &response);
    if (!status.ok()) return FromGrpc(status, address);
    return server;
  }

  // Resolves the configured addresses again when due (always at start-up, where every one
  // must resolve and answer): new servers join, vanished ones are marked gone.
  absl::Status Refresh(bool initial) {
    if (!initial && absl::Now() - resolved_at < options.resolve_interval) return absl::OkStatus();
    resolved_at = absl::Now();
    std::vector<rpc::Endpoint> endpoints;
    for (const std::string& address : options.addresses) {
      absl::StatusOr<std::vector<rpc::Endpoint>> found = rpc::Resolve(address);
      if (!found.ok()) {
        if (initial) return Annotate(found.status(), "reward.addresses");
        spdlog::warn("reward.addresses: {} (keeping the servers it had)",
                     std::string(found.status().message()));
        return absl::OkStatus();
      }
      endpoints.insert(endpoints.end(), found->begin(), found->end());
    }
    std::lock_guard<std::mutex> lock(mu);
    for (auto& server : servers) {
      server->gone =
          std::find(endpoints.begin(), endpoints.end(), server->endpoint) == endpoints.end();
    }
    for (const rpc::Endpoint& endpoint : endpoints) {
      bool known = false;
      for (auto& server : servers) known = known || server->endpoint == endpoint;
      if (known) continue;
      PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Connect(endpoint, initial));
      if (!initial) spdlog::info("reward server {} joined", endpoint.address);
      servers.push_back(std::move(server));
    }
    return absl::OkStatus();
  }

  // The server for the next call: the one with the fewest items in flight among those not
  // recently failed (other than `avoid`, when there is a choice). Null when there is none.
  Server* Pick(const Server* avoid) {
    std::lock_guard<std::mutex> lock(mu);
    const absl::Time now = absl::Now();
    Server* best = nullptr;
    auto better = [&](Server* s) {
      if (best == nullptr) return true;
      const bool s_up = s->down_until <= now, b_up = best->down_until <= now;
      if (s_up != b_up) return s_up;
      if ((s == avoid) != (best == avoid)) return best == avoid;
      if (!s_up) return s->down_until < best->down_until;
      return s->in_flight < best->in_flight;
    };
    for (auto& server : servers) {
      if (!server->gone && better(server.get())) best = server.get();
    }
    return best;
  }

  void Failed(Server* server, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    ++server->failures;
    ++counts.server_failures;
    server->last_error = status.error_message();
    server->down_until = absl::Now() + options.backoff.max;
  }
};

GrpcRewardBackend::GrpcRewardBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcRewardBackend::~GrpcRewardBackend() = default;

absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> GrpcRewardBackend::Create(
    const RewardClientOptions& options) {
  if (options.addresses.empty()) {
    return absl::InvalidArgumentError("reward.addresses: no reward server given");
  }
  if (options.max_batch_items == 0) {
    return absl::InvalidArgumentError("max_batch_items must be >= 1");
  }
  if (options.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be >= 1");
  for (const std::string& address : options.addresses) {
    // Checked before any connection is tried, so that a typo is named at once.
    if (absl::StatusOr<std::vector<rpc::Endpoint>> found = rpc::Resolve(address);
        !found.ok() && found.status().code() == absl::StatusCode::kInvalidArgument) {
      return Annotate(found.status(), "reward.addresses");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  PONDER_RETURN_IF_ERROR(impl->Refresh(/*initial=*/true));
  return std::unique_ptr<GrpcRewardBackend>(new GrpcRewardBackend(std::move(impl)));
}

absl::StatusOr<std::vector<ItemResult>> GrpcRewardBackend::Score(
    const std::vector<VerifyInput>& items, const BatchOptions& options) {
  PONDER_RETURN_IF_ERROR(impl_->Refresh(/*initial=*/false));
  struct Chunk {
    size_t begin = 0, end = 0;
    ponder::v1::ScoreRequest request;
    int attempts = 0;
    absl::Time due;
    Server* last = nullptr;
  };
  struct Call {
    Chunk* chunk = nullptr;
    Server* server = nullptr;
    grpc::ClientContext context;
    ponder::v1::ScoreResponse response;
    grpc::Status status;
  };
  const size_t per_chunk = impl_->options.max_batch_items;
  std::vector<Chunk> chunks((items.size() + per_chunk - 1) / per_chunk);
  std::deque<Chunk*> waiting;
  for (size_t c = 0; c < chunks.size(); ++c) {
    Chunk& chunk = chunks[c];
    chunk.begin = c * per_chunk;
    chunk.end = std::min(items.size(), chunk.begin + per_chunk);
    chunk.request.set_verifier(options.verifier);
    chunk.request.set_timeout_s(absl::ToDoubleSeconds(options.timeout));
    for (size_t i = chunk.begin; i < chunk.end; ++i) {
      internal::InputToItem(items[i], std::to_string(i), chunk.request.add_items());
    }
    chunk.due = absl::Now();
    waiting.push_back(&chunk);
  }

  std::vector<ItemResult> results(items.size());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Call*> finished;  // guarded by mu
  std::list<std::unique_ptr<Call>> running;
  size_t resolved = 0;
  absl::Status fatal;
  auto give_up = [&](Chunk* chunk, const absl::Status& error) {
    for (size_t i = chunk->begin; i < chunk->end; ++i) results[i].status = error;
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->counts.failed_items += static_cast<int64_t>(chunk->end - chunk->begin);
    ++resolved;
  };
  auto launch = [&](Chunk* chunk, Server* server) {
    auto call = std::make_unique<Call>();
    Call* raw = call.get();
    raw->chunk = chunk;
    raw->server = server;
    chunk->last = server;
    impl_->Prepare(raw->context);
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      server->in_flight += static_cast<int64_t>(chunk->end - chunk->begin);
    }
    running.push_back(std::move(call));
    server->stub->async()->Score(&raw->context, &chunk->request, &raw->response,
                                 [raw, &mu, &cv, &finished](grpc::Status status) {
                                   std::lock_guard<std::mutex> lock(mu);
                                   raw->status = std::move(status);
                                   finished.push_back(raw);
                                   cv.notify_all();
                                 });
  };

  while (resolved < chunks.size() && fatal.ok()) {
    const absl::Time now = absl::Now();
    absl::Time next_due = absl::InfiniteFuture();
    for (size_t k = waiting.size(); k > 0; --k) {
      Chunk* chunk = waiting.front();
      waiting.pop_front();
      if (chunk->due > now) {
        next_due = std::min(next_due, chunk->due);
        waiting.push_back(chunk);
        continue;
      }
      Server* server = impl_->Pick(chunk->last);
      if (server == nullptr) {
        give_up(chunk, absl::UnavailableError("no reward server left among reward.addresses"));
        continue;
      }
      launch(chunk, server);
    }
    std::vector<Call*> done;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_until(lock, absl::ToChronoTime(std::min(next_due, absl::Now() + absl::Seconds(1))),
                    [&] { return !finished.empty(); });
      done.swap(finished);
    }
    for (Call* call : done) {
      Chunk* chunk = call->chunk;
      Server* server = call->server;
      const size_t count = chunk->end - chunk->begin;
      {
        std::lock_guard<std::mutex> lock(impl_->mu);
        server->in_flight -= static_cast<int64_t>(count);
        if (call->status.ok()) {
          server->served += static_cast<int64_t>(count);
          server->last_answer = absl::Now();
          server->down_until = absl::InfinitePast();
        }
      }
      const std::string& address = server->endpoint.address;
      if (call->status.ok()) {
        if (static_cast<size_t>(call->response.results_size()) != count) {
          give_up(chunk, absl::InternalError(absl::StrCat("reward server ", address, " returned ",
                                                          call->response.results_size(),
                                                          " results for ", count, " items")));
        } else {
          for (size_t i = chunk->begin; i < chunk->end; ++i) {
            results[i] = internal::ProtoToItemResult(call->response.results(i - chunk->begin));
          }
          ++resolved;
        }
      } else if (IsRequestError(call->status.error_code())) {
        fatal = FromGrpc(call->status, address);
      } else {
        impl_->Failed(server, call->status);
        const absl::Status error = FromGrpc(call->status, address);
        if (++chunk->attempts >= impl_->options.max_attempts) {
          spdlog::warn("reward: giving up on {} items after {} attempts: {}", count,
                       chunk->attempts, std::string(error.message()));
          give_up(chunk, Annotate(error, absl::StrCat("after ", chunk->attempts, " attempts")));
        } else {
          spdlog::warn("reward: {} (attempt {} of {}; sending the chunk again)",
                       std::string(error.message()), chunk->attempts, impl_->options.max_attempts);
          {
            std::lock_guard<std::mutex> lock(impl_->mu);
            ++impl_->counts.retries;
          }
          chunk->due = absl::Now() + impl_->options.backoff.Delay(chunk->attempts - 1, impl_->rng);
          waiting.push_back(chunk);
        }
      }
      running.remove_if([call](const std::unique_ptr<Call>& c) { return c.get() == call; });
    }
  }
  // After a request error: cancel the calls still out, and wait for them to end.
  for (auto& call : running) call->context.TryCancel();
  while (!running.empty()) {
    std::vector<Call*> done;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !finished.empty(); });
      done.swap(finished);
    }
    for (Call* call : done) {
      {
        std::lock_guard<std::mutex> lock(impl_->mu);
        call->server->in_flight -= static_cast<int64_t>(call->chunk->end - call->chunk->begin);
      }
      running.remove_if([call](const std::unique_ptr<Call>& c) { return c.get() == call; });
    }
  }
  if (!fatal.ok()) return fatal;
  return results;
}

absl::StatusOr<std::vector<VerifierInfo>> GrpcRewardBackend::ListVerifiers() {
  absl::Status last = absl::UnavailableError("no reward server left among reward.addresses");
  const Server* avoid = nullptr;
  for (int attempt = 0; attempt < impl_->options.max_attempts; ++attempt) {
    Server* server = impl_->Pick(avoid);
    if (server == nullptr) break;
    grpc::ClientContext context;
    impl_->Prepare(context);
    ponder::v1::ListVerifiersRequest request;
    ponder::v1::ListVerifiersResponse response;
    grpc::Status status = server->stub->ListVerifiers(&context, request, &response);
    if (status.ok()) {
      std::vector<VerifierInfo> out;
      for (const auto& v : response.verifiers()) out.push_back({v.name(), v.description()});
      return out;
    }
    last = FromGrpc(status, server->endpoint.address);
    if (IsRequestError(status.error_code())) return last;
    impl_->Failed(server, status);
    avoid = server;
  }
  return last;
}

std::vector<rpc::WorkerStatus> GrpcRewardBackend::Workers() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<rpc::WorkerStatus> out;
  const absl::Time now = absl::Now();
  for (const auto& server : impl_->servers) {
    rpc::WorkerStatus w;
    w.role = "reward";
    w.address = server->endpoint.address;
    w.source = server->endpoint.source;
    w.state = server->gone ? "gone" : server->down_until > now ? "failed" : "alive";
    w.in_flight = server->in_flight;
    w.served = server->served;
    w.failures = server->failures;
    w.seconds_since_answer = absl::ToDoubleSeconds(now - server->last_answer);
    w.last_error = server->last_error;
    out.push_back(std::move(w));
  }
  return out;
}

RewardCallCounts GrpcRewardBackend::Counts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counts;
}

}  // namespace ponder::reward
