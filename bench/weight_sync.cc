// Weight sync from a trainer to its rollout workers: the ~25M-parameter model (float32,
// ~99 MB) pushed by a RolloutPool (rollout/worker_pool.h) to 1 and 4 workers on loopback
// gRPC, each a RolloutService over an engine with its own copy of the model. Reports the time
// until every worker holds the version live (the push returns once all have applied it) and
// the aggregate MB/s (workers x size / that time), through the gRPC stream and through shared
// memory (/dev/shm, rollout/shared_weights.h), beside the single-worker client the trainer
// used before (GrpcRolloutBackend::UpdateWeights, one stream) in the same run.
//
//   make bench BENCH=weight_sync
//
// On a 2-core machine the workers share the cores with the sender, as processes would.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "bench/rollout_bench_common.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "rollout/service.h"
#include "rollout/worker_pool.h"

namespace ponder::bench {
namespace {

std::vector<rollout::WeightTensor> HostWeights(const model::Decoder& decoder) {
  std::vector<rollout::WeightTensor> out;
  for (const auto& p : decoder->named_parameters()) {
    auto t = std::make_shared<at::Tensor>(p.value().detach().clone());
    out.push_back({.name = p.key(),
                   .shape = t->sizes().vec(),
                   .data = t->data_ptr(),
                   .bytes = t->nbytes(),
                   .owner = t});
  }
  return out;
}

struct Worker {
  model::Decoder model{nullptr};
  std::unique_ptr<rollout::RolloutEngine> engine;
  std::unique_ptr<rollout::RolloutServer> server;
};

std::unique_ptr<Worker> StartWorker(const model::ModelConfig& config) {
  auto w = std::make_unique<Worker>();
  w->model = model::Decoder(config);
  rollout::EngineOptions o;
  o.max_seq_len = 256;
  o.max_running = 4;
  w->engine = OrDie(rollout::RolloutEngine::Create(w->model.ptr(), o));
  rollout::ServerOptions so;
  so.listen = "127.0.0.1:0";
  w->server = OrDie(rollout::RolloutServer::Start(w->engine.get(), so));
  return w;
}

// Best and median of `repeats` timings of f().
template <typename F>
std::pair<double, double> Time(int repeats, F&& f) {
  std::vector<double> s;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    s.push_back(Seconds(start));
  }
  std::sort(s.begin(), s.end());
  return {s.front(), s[s.size() / 2]};
}

void Row(const std::string& what, size_t workers, double mb, std::pair<double, double> s) {
  std::cout << absl::StrFormat("%-36s %7zu %12.3f %12.3f %14.0f\n", what, workers, s.first,
                               s.second, workers * mb / s.first);
}

int Main() {
  at::set_num_threads(BenchThreads());
  const model::ModelConfig config = Llama25M();
  torch::manual_seed(0);
  model::Decoder trained(config);
  std::vector<rollout::WeightTensor> weights = HostWeights(trained);
  uint64_t total = 0;
  for (const auto& w : weights) total += w.bytes;
  const double mb = total / 1e6;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(StartWorker(config));
  int64_t version = 0;
  constexpr int kRepeats = 5;

  std::cout << absl::StrFormat(
      "weight sync: %.1fM-parameter model, %zu tensors, %.1f MB float32, loopback, %d "
      "thread(s); time until every worker holds it live, best and median of %d\n",
      config.NumParameters() / 1e6, weights.size(), mb, at::get_num_threads(), kRepeats);
  std::cout << absl::StrFormat("%-36s %7s %12s %12s %14s\n", "", "workers", "best (s)",
                               "median (s)", "aggregate MB/s");
  {
    std::unique_ptr<rollout::GrpcRolloutBackend> client =
        OrDie(rollout::GrpcRolloutBackend::Connect(workers[0]->server->address()));
    if (!client->UpdateWeights(++version, weights).ok()) return 1;  // warm-up
    Row("before: one client, one stream", 1, mb, Time(kRepeats, [&] {
          if (!client->UpdateWeights(++version, weights).ok()) std::exit(1);
        }));
  }
  for (bool shared : {false, true}) {
    for (size_t n : {size_t{1}, size_t{4}}) {
      rollout::PoolOptions o;
      for (size_t i = 0; i < n; ++i) o.addresses.push_back(workers[i]->server->address());
      o.shared_memory = shared;
      o.health_interval = absl::Seconds(60);  // no probes while timing
      std::unique_ptr<rollout::RolloutPool> pool = OrDie(rollout::RolloutPool::Connect(o));
      if (!pool->UpdateWeights(++version, weights).ok()) return 1;  // warm-up
      Row(absl::StrFormat("pool, %s", shared ? "shared memory" : "gRPC stream"), n, mb,
          Time(kRepeats, [&] {
            absl::Status s = pool->UpdateWeights(++version, weights);
            if (!s.ok()) {
              std::cerr << s << "\n";
              std::exit(1);
            }
          }));
    }
  }
  // Every engine holds the last weights.
  for (const auto& w : workers) {
    for (const auto& p : w->model->named_parameters()) {
      if (!p.value().equal(trained->named_parameters()[p.key()])) {
        std::cerr << "worker weights differ: " << p.key() << "\n";
        return 1;
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
