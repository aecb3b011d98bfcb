// Weight update of the ~25M-parameter model (float32, ~99 MB) from a trainer to a rollout
// worker over loopback gRPC: RolloutService.UpdateWeights streams the tensors in chunks with a
// CRC-32C and the engine applies them between two decode steps. Reports MB/s end to end (the
// call returns once the weights are live) for several chunk sizes, beside what the pieces cost
// alone in the same run: the CRC-32C, and the in-process update (the copy into the model).
//
//   make bench BENCH=rollout_weight_update
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "base/crc32c.h"
#include "bench/rollout_bench_common.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "rollout/service.h"

namespace ponder::bench {
namespace {

std::vector<rollout::WeightTensor> HostWeights(const model::Decoder& decoder) {
  std::vector<rollout::WeightTensor> out;
  for (const auto& p : decoder->named_parameters()) {
    at::Tensor t = p.value().detach().contiguous();
    auto bytes = std::make_shared<std::string>(t.numel() * sizeof(float), '\0');
    std::memcpy(bytes->data(), t.data_ptr<float>(), bytes->size());
    rollout::WeightTensor w;
    w.name = p.key();
    w.shape.assign(t.sizes().begin(), t.sizes().end());
    w.data = bytes->data();
    w.bytes = bytes->size();
    w.owner = bytes;
    out.push_back(std::move(w));
  }
  return out;
}

template <typename F>
double Best(int repeats, F&& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, Seconds(start));
  }
  return best;
}

int Main() {
  at::set_num_threads(BenchThreads());
  const model::ModelConfig config = Llama25M();
  torch::manual_seed(0);
  model::Decoder serving(config), trained(config);
  std::vector<rollout::WeightTensor> weights = HostWeights(trained);
  uint64_t total = 0;
  for (const auto& w : weights) total += w.bytes;
  const double mb = total / 1e6;

  rollout::EngineOptions o;
  o.max_seq_len = 256;
  o.max_running = 4;
  std::unique_ptr<rollout::RolloutEngine> engine =
      OrDie(rollout::RolloutEngine::Create(serving.ptr(), o));
  rollout::ServerOptions so;
  so.listen = "127.0.0.1:0";
  std::unique_ptr<rollout::RolloutServer> server =
      OrDie(rollout::RolloutServer::Start(engine.get(), so));
  int64_t version = 0;

  std::cout << absl::StrFormat(
      "weight update: %.1fM-parameter model, %zu tensors, %.1f MB float32, loopback gRPC, "
      "%d thread(s); best of 3\n",
      config.NumParameters() / 1e6, weights.size(), mb, at::get_num_threads());
  uint32_t crc = 0;
  const double crc_s = Best(3, [&] {
    crc = 0;
    for (const auto& w : weights) crc = Crc32cExtend(crc, w.data, w.bytes);
  });
  const double local_s = Best(3, [&] {
    if (!engine->UpdateWeights(++version, weights).ok()) std::exit(1);
  });
  std::cout << absl::StrFormat("%-34s %10.3f s %10.0f MB/s\n", "CRC-32C alone", crc_s, mb / crc_s);
  std::cout << absl::StrFormat("%-34s %10.3f s %10.0f MB/s\n", "in process (copy into the model)",
                               local_s, mb / local_s);
  for (size_t chunk : {size_t{256} << 10, size_t{1} << 20, size_t{4} << 20}) {
    rollout::GrpcBackendOptions co;
    co.chunk_bytes = chunk;
    std::unique_ptr<rollout::GrpcRolloutBackend> client =
        OrDie(rollout::GrpcRolloutBackend::Connect(server->address(), co));
    if (!client->UpdateWeights(++version, weights).ok()) std::exit(1);  // warm-up
    const double s = Best(3, [&] {
      absl::Status status = client->UpdateWeights(++version, weights);
      if (!status.ok()) {
        std::cerr << status << "\n";
        std::exit(1);
      }
    });
    std::cout << absl::StrFormat("%-34s %10.3f s %10.0f MB/s\n",
                                 absl::StrFormat("gRPC, %zu KiB chunks", chunk >> 10), s, mb / s);
  }
  if (engine->weight_version() != version) return 1;
  return 0;
}

}  // namespace
}  // namespace ponder::bench

int main() { return ponder::bench::Main(); }
