#include "trainer/distributed.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "trainer/internal/rank_group.h"

namespace ponder::trainer {
using internal::Bytes;
using internal::ErrorText;
using internal::HeartbeatKey;
using internal::HostName;
using internal::IsLoopback;
using internal::kAbortKey;
using internal::Millis;
using internal::Text;

absl::Status RankGroup::Impl::Join() {
  PONDER_RETURN_IF_ERROR(MeetAtStore());
  PONDER_RETURN_IF_ERROR(CreateGroup());
  // The watchdog talks to the store over its own connection, so that the main thread's
  // waits never delay a heartbeat.
  try {
    c10d::TCPStoreOptions watch_options;
    watch_options.port = static_cast<uint16_t>(opts.env.master_port);
    watch_options.isServer = false;
    watch_options.waitWorkers = false;
    watch_options.timeout = timeout;
    watch_store = c10::make_intrusive<c10d::TCPStore>(opts.env.master_addr, watch_options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(Describe(rank), ": connecting to the store at ",
                                               Endpoint(), ": ", ErrorText(e)));
  }
  watchdog = std::thread([this] { WatchdogLoop(); });
  return absl::OkStatus();
}

// Every rank connects to the store rank 0 serves, and they learn each other's host and pid.
absl::Status RankGroup::Impl::MeetAtStore() {
  const RankEnv& env = opts.env;
  const std::string host = HostName();
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(env.master_port);
  store_options.isServer = rank == 0;
  store_options.numWorkers = static_cast<size_t>(size);
  store_options.waitWorkers = true;
  store_options.timeout = Millis(opts.options.init_timeout_s);
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "rank ", rank, " of ", size, " (host ", host, "): the rendezvous at ", Endpoint(),
        rank == 0 ? " (served by this rank)" : " (served by rank 0)",
        " did not gather all ranks within distributed.init_timeout_s = ",
        opts.options.init_timeout_s, " s: ", ErrorText(e),
        ". Check that all ranks were started with the same MASTER_ADDR, MASTER_PORT and "
        "WORLD_SIZE (",
        env.source, "), and that rank 0 can listen on port ", env.master_port));
  }
  try {
    store->setTimeout(timeout);
    store->set(absl::StrCat("host/", rank), Bytes(absl::StrCat("host ", host, ", pid ", getpid())));
    store->set(HeartbeatKey(rank), Bytes("0 0 start"));
    for (int64_t r = 0; r < size; ++r) {
      const std::string key = absl::StrCat("host/", r);
      store->wait({key});
      peers.push_back(Text(store->get(key)));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", rank, " (host ", host,
                                               "): exchanging host names through the store at ",
                                               Endpoint(), ": ", ErrorText(e)));
  }
  return absl::OkStatus();
}

absl::Status RankGroup::Impl::CreateGroup() {
  const RankEnv& env = opts.env;
  DistributedBackend kind = opts.options.backend;
  if (kind == DistributedBackend::kAuto) {
#ifdef PONDER_WITH_NCCL
    kind = opts.cuda ? DistributedBackend::kNccl : DistributedBackend::kGloo;
#else
    kind = DistributedBackend::kGloo;
#endif
  }
  auto prefixed = [this](const char* prefix) {
    return c10::make_intrusive<c10d::PrefixStore>(prefix, store);
  };
  try {
    if (kind == DistributedBackend::kNccl) {
#ifdef PONDER_WITH_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed("nccl"), static_cast<int>(rank),
                                                         static_cast<int>(size), nccl_options);
      backend = "nccl";
#else
      return absl::FailedPreconditionError(
          "distributed.backend is nccl, but this build of ponder has no NCCL (build with "
          "-DPONDER_WITH_CUDA=ON against a CUDA LibTorch), or use distributed.backend: gloo");
#endif
    } else {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      if (!env.gloo_interface.empty()) {
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForInterface(env.gloo_interface));
      } else if (IsLoopback(env.master_addr)) {
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed("gloo"), static_cast<int>(rank),
                                                         static_cast<int>(size), gloo_options);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(Describe(rank), ": creating the ", size, "-rank ",
                                               kind == DistributedBackend::kNccl ? "NCCL" : "Gloo",
                                               " group: ", ErrorText(e)));
  }
  return absl::OkStatus();
}
// ---- Collectives --------------------------------------------------------------------------

absl::Status RankGroup::Impl::Run(const std::string& what,
                                  const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
  if (absl::Status s = Lost(); !s.ok()) return s;
  Enter(what);
  try {
    c10::intrusive_ptr<c10d::Work> work = start();
    work->wait(timeout);
  } catch (const std::exception& e) {
    return Failed(what, ErrorText(e));
  }
  return absl::OkStatus();
}
RankGroup::Pending::Pending() = default;
RankGroup::Pending::Pending(Pending&&) noexcept = default;
RankGroup::Pending& RankGroup::Pending::operator=(Pending&&) noexcept = default;
RankGroup::Pending::~Pending() = default;

RankGroup::RankGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RankGroup::~RankGroup() { impl_->StopWatchdog(); }

absl::StatusOr<std::unique_ptr<RankGroup>> RankGroup::Create(const RankGroupOptions& options) {
  PONDER_RETURN_IF_ERROR(options.options.Validate());
  if (!options.env.distributed()) {
    return absl::InvalidArgumentError("a rank group needs at least two ranks (WORLD_SIZE > 1)");
  }
  auto impl = std::make_unique<Impl>(options);
  PONDER_RETURN_IF_ERROR(impl->Join());
  spdlog::info("distributed: {} of {} ranks, {} over {}", impl->Describe(impl->rank), impl->size,
               impl->backend, impl->Endpoint());
  return std::unique_ptr<RankGroup>(new RankGroup(std::move(impl)));
}

int64_t RankGroup::rank() const { return impl_->rank; }
int64_t RankGroup::size() const { return impl_->size; }
const std::string& RankGroup::backend() const { return impl_->backend; }
c10::Device RankGroup::device() const { return impl_->device(); }
std::string RankGroup::Describe(int64_t rank) const { return impl_->Describe(rank); }
absl::Status RankGroup::lost() const { return impl_->Lost(); }

// c10d's collectives take one tensor per device of the process; several tensors of a rank
// travel as one flat buffer per dtype and device, copied back afterwards.
absl::Status RankGroup::Impl::Flat(std::vector<at::Tensor>& tensors, const std::string& what,
                                   const std::function<absl::Status(at::Tensor&)>& collective) {
  if (tensors.size() == 1 && tensors[0].is_contiguous()) return collective(tensors[0]);
  std::vector<bool> done(tensors.size(), false);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (done[i]) continue;
    std::vector<size_t> members;
    std::vector<at::Tensor> pieces;
    for (size_t j = i; j < tensors.size(); ++j) {
      if (!done[j] && tensors[j].scalar_type() == tensors[i].scalar_type() &&
          tensors[j].device() == tensors[i].device()) {
        members.push_back(j);
        pieces.push_back(tensors[j].reshape({-1}));
        done[j] = true;
      }
    }
    at::Tensor flat = at::cat(pieces);
    PONDER_RETURN_IF_ERROR(collective(flat));
    int64_t offset = 0;
    for (size_t j : members) {
      const int64_t n = tensors[j].numel();
      tensors[j].copy_(flat.narrow(0, offset, n).view(tensors[j].sizes()));
      offset += n;
    }
  }
  return absl::OkStatus();
}

absl::Status RankGroup::AllReduceSum(std::vector<at::Tensor>& tensors, const std::string& what) {
  return impl_->Flat(tensors, what, [&](at::Tensor& flat) {
    return impl_->Run(what, [&] {
      return impl_->WithGroup([&](auto& group) {
        std::vector<at::Tensor> one = {flat};
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        return group.allreduce(one, options);
      });
    });
  });
}

absl::Status RankGroup::Broadcast(std::vector<at::Tensor>& tensors, const std::string& what) {
  return impl_->Flat(tensors, what, [&](at::Tensor& flat) {
    return impl_->Run(what, [&] {
      return impl_->WithGroup([&](auto& group) {
        std::vector<at::Tensor> one = {flat};
        c10d::BroadcastOptions options;
        options.rootRank = 0;
        return group.broadcast(one, options);
      });
    });
  });
}

absl::Status RankGroup::Barrier(const std::string& what) {
  return impl_->Run(what, [&] {
    return impl_->WithGroup([&](auto& group) { return group.barrier(c10d::BarrierOptions()); });
  });
}

absl::Status RankGroup::BroadcastBytes(std::string& bytes, const std::string& what) {
  Impl& m = *impl_;
  const std::string key = absl::StrCat("broadcast/", ++m.broadcasts);
  if (m.rank == 0) {
    try {
      m.store->set(key, {1});
    } catch (const std::exception& e) {
      return m.Failed(what, ErrorText(e));
    }
  } else {
    // Poll the store (a blocking wait cannot be given up on and retried with LibTorch 1.13's
    // TCPStore), backing off to 50 ms, while the watchdog checks that rank 0 is alive.
    m.Enter(absl::StrCat("waiting for rank 0: ", what));
    auto pause = std::chrono::milliseconds(1);
    while (true) {
      if (absl::Status s = m.Lost(); !s.ok()) {
        return absl::UnavailableError(
            absl::StrCat(s.message(), " (", m.Describe(m.rank), " was waiting for ", what, ")"));
      }
      try {
        if (m.store->check({key})) break;
      } catch (const std::exception& e) {
        return m.Failed(what, ErrorText(e));
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }
  std::vector<at::Tensor> length = {
      at::tensor({static_cast<int64_t>(bytes.size())}, at::kLong).to(m.device())};
  PONDER_RETURN_IF_ERROR(Broadcast(length, absl::StrCat(what, " (size)")));
  const int64_t n = length[0].cpu().item<int64_t>();
  std::vector<at::Tensor> data;
  if (m.rank == 0) {
    data.push_back(at::from_blob(bytes.data(), {n}, at::kByte).to(m.device(), true, true));
  } else {
    data.push_back(at::empty({n}, at::TensorOptions(at::kByte).device(m.device())));
  }
  PONDER_RETURN_IF_ERROR(Broadcast(data, what));
  if (m.rank != 0) {
    at::Tensor cpu = data[0].cpu().contiguous();
    bytes.assign(reinterpret_cast<const char*>(cpu.data_ptr<uint8_t>()), static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<RankGroup::Pending> RankGroup::StartAllReduceSum(at::Tensor tensor,
                                                                const std::string& what) {
  Impl& m = *impl_;
  PONDER_RETURN_IF_ERROR(m.Lost());
  m.Enter(what);
  Pending pending;
  pending.work_ = std::make_unique<Pending::Work>();
  pending.work_->what = what;
  try {
    std::vector<at::Tensor> tensors = {std::move(tensor)};
    pending.work_->work = m.WithGroup([&](auto& group) {
      c10d::AllreduceOptions options;
      options.reduceOp = c10d::ReduceOp::SUM;
      return group.allreduce(tensors, options);
    });
  } catch (const std::exception& e) {
    return m.Failed(what, ErrorText(e));
  }
  return pending;
}

absl::Status RankGroup::Wait(Pending& pending) {
  if (pending.work_ == nullptr) return absl::OkStatus();
  try {
    pending.work_->work->wait(impl_->timeout);
  } catch (const std::exception& e) {
    return impl_->Failed(pending.work_->what, ErrorText(e));
  }
  return absl::OkStatus();
}

void RankGroup::Abort(const absl::Status& status) {
  Impl& m = *impl_;
  const std::string message = absl::StrCat(m.Describe(m.rank), " stopped: ", status.message());
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.aborted = true;
  }
  try {
    m.store->set(kAbortKey, Bytes(message));
  } catch (const std::exception& e) {
    spdlog::warn("distributed: could not tell the other ranks that {}: {}", message, ErrorText(e));
  }
}

absl::Status RankGroup::Finish() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->finishing = true;
  }
  PONDER_RETURN_IF_ERROR(Barrier("the end of the job"));
  impl_->StopWatchdog();
  return absl::OkStatus();
}

}  // namespace ponder::trainer
