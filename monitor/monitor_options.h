// The `monitor:` section of a job config: what the run directory records besides the metrics,
// and the process's HTTP server (the dashboard and /metrics).
//
//   monitor:
//     sinks: [jsonl, tensorboard, prometheus]   # monitor/sink_factory.h; jsonl is required
//     tensorboard_samples: 4      # samples per step in TensorBoard's text summary
//     max_samples_per_step: 256   # trajectories written to samples/step_<N>.jsonl (-1: all)
//     token_details: 0.0          # share of those samples with per-token detail in
//                                 # samples/step_<N>_tokens.jsonl (monitor/token_detail.h)
//     http: {host: 127.0.0.1, port: 8088}   # absent (the default): no server
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "monitor/http_server.h"

namespace ponder::monitor {

struct MonitorOptions {
  std::vector<std::string> sinks = {"jsonl", "tensorboard", "prometheus"};
  int64_t tensorboard_samples = 4;
  int64_t max_samples_per_step = 256;
  // The share (0 to 1) of each step's written samples that also get per-token detail (token
  // text, trainer and rollout log-probs, entropy, advantage, loss mask) for the dashboard's
  // token view; the first ones of the step, whole groups first. 0: none.
  double token_details = 0.0;
  // `ponder train`: the dashboard of this run and /metrics; `ponder rollout` and
  // `ponder reward`: /metrics. Off unless given. Its token comes from $PONDER_MONITOR_TOKEN.
  std::optional<HttpOptions> http;

  void Bind(config::Binder& b) {
    auto known = [](const std::string& s) {
      return s == "jsonl" || s == "tensorboard" || s == "prometheus";
    };
    b.Field("sinks", sinks)
        .Must(std::all_of(sinks.begin(), sinks.end(), known),
              "list only jsonl, tensorboard and prometheus")
        .Must(std::find(sinks.begin(), sinks.end(), "jsonl") != sinks.end(),
              "include jsonl (metrics.jsonl is the run's record)");
    b.Field("tensorboard_samples", tensorboard_samples).AtLeast(0);
    b.Field("max_samples_per_step", max_samples_per_step).AtLeast(-1);
    b.Field("token_details", token_details).InRange(0.0, 1.0);
    b.Field("http", http);
  }
};

}  // namespace ponder::monitor
