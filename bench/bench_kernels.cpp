// scenecam-bench kernels: every custom memory-bound kernel at the shapes a ResNet-18 training
// step (and a Grad-CAM batch) produces for the given inputs and batch sizes, with the achieved
// bandwidth beside the device's copy bandwidth measured in the same run, and, on the CUDA backend,
// the cuDNN / cuBLAS routine that does the same job timed beside ours.
//
// Before anything is timed, each kernel runs once on random inputs with its outputs poisoned
// (NaN) and is compared with a separate CPU backend on the same inputs (on the CPU backend that
// checks every output was written); each library peer is compared with our kernel's output.
//
// Timing: the median of `repeats` runs measured by BackendMeasurement::time_seconds (stream events on the
// GPU), each run preceded, outside the timing, by a write over a buffer larger than the
// last-level cache, so that no run finds its inputs cached by the previous one. The cases and
// their validation are the table in kernel_cases.hpp, which the CUDA and emulated tests share.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "bench_util.hpp"
#include "internal/progress.hpp"
#include "kernel_cases.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/elementwise.hpp"

namespace scenecam::bench {

namespace {

// Every kernel at every (input, batch), then the optimizers over ResNet-18's parameters; the
// cases that repeat a kernel for a second library peer only on the GPU.
std::vector<Case> benchmark_cases(const std::vector<long>& inputs, const std::vector<long>& batches,
                                  bool gpu) {
  std::vector<Case> cases;
  for (long S : inputs)
    for (long B : batches)
      for (Case& c : step_cases(S, B))
        cases.push_back(std::move(c));
  for (Case& c : optimizer_cases(11689512))  // ResNet-18's parameters
    cases.push_back(std::move(c));
  if (!gpu)
    cases.erase(
        std::remove_if(cases.begin(), cases.end(), [](const Case& c) { return c.peer_only; }),
        cases.end());
  return cases;
}

// One row: our kernel's median time and bandwidth, and on the GPU its library peer's beside it.
std::vector<std::string> time_case(Backend& be, const Case& c, bool gpu, int repeats,
                                   const std::function<void()>& flush, double copy_gbs) {
  Bound bound(be, c);
  bound.upload(be, c);
  const double t = device_median_seconds(
      be, [&] { c.run(be, bound.t); }, 3, repeats, flush);
  const double gbs = c.bytes / t / 1e9;
  std::string peer = "-", peer_ms = "-", speedup = "-";
  if (gpu && c.has_peer) {
    const Tensor none;
    const Tensor& pa = bound.t[c.peer_a];
    const Tensor& pb = c.peer_b >= 0 ? bound.t[c.peer_b] : none;
    const Tensor& py = bound.t[c.peer_y];
    const double tp = device_median_seconds(
        be, [&] { run_library_peer(be, c.peer, pa, pb, py); }, 3, repeats, flush);
    peer = library_peer_name(c.peer);
    peer_ms = significant(tp * 1e3, 4);
    speedup = fixed(tp / t, 2);
  }
  return {c.input,
          c.batch,
          c.kernel,
          c.shape,
          significant(t * 1e3, 4),
          fixed(gbs, 1),
          fixed(100 * gbs / copy_gbs, 0),
          peer,
          peer_ms,
          speedup};
}

}  // namespace

int run_kernels(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"},
                     {"input", "150,224"},
                     {"batch", ""},
                     {"repeats", ""},
                     {"flush-mib", ""},
                     {"threads", "0"},
                     {"json", ""}});
  auto be = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));
  const bool gpu = be->device().is_cuda();
  // GPU defaults sweep the batch sizes training uses; the CPU's keep the run to about a minute.
  const std::vector<long> inputs = flags.integers("input");
  const std::vector<long> batches =
      flags.given("batch")
          ? flags.integers("batch")
          : std::vector<long>(gpu ? std::vector<long>{32, 64, 128, 256} : std::vector<long>{32});
  const int repeats = flags.given("repeats") ? static_cast<int>(flags.integer("repeats"))
                      : gpu                  ? 50
                                             : 10;
  const long flush_mib = flags.given("flush-mib") ? flags.integer("flush-mib") : gpu ? 256 : 64;
  SC_CHECK(repeats >= 3 && flush_mib >= 0, "need --repeats >= 3 and --flush-mib >= 0");
  for (long s : inputs)
    SC_CHECK(s >= 32, "--input ", s, " is below 32 pixels");
  auto reference = make_cpu_backend(0);

  // The cache flush, and the copy reference (bench_util.hpp).
  auto scratch = be->make_pool("bench flush", flush_mib * 1048576 + kPoolAlignment, false);
  const Tensor flush_buf =
      scratch->take(Shape{std::max<int64_t>(flush_mib * 1048576 / 4, 1)}, DType::f32, "flush");
  double flush_value = 0;
  const auto flush = [&] {
    if (flush_mib > 0) be->fill(flush_buf, flush_value += 1);
  };
  const int64_t copy_mib = std::max<int64_t>(flush_mib, 64);
  const double copy_gbs = copy_bandwidth_gbs(*be, copy_mib, repeats, flush);

  const std::vector<Case> cases = benchmark_cases(inputs, batches, gpu);
  std::printf(
      "scenecam-bench kernels: %s backend, inputs %s, batches %s, median of %d, %ld MiB cache "
      "flush\n",
      be->name().c_str(), flags.str("input").c_str(),
      flags.given("batch") ? flags.str("batch").c_str() : (gpu ? "32,64,128,256" : "32"), repeats,
      flush_mib);
  std::printf("copy bandwidth (%ld MiB device-to-device): %.1f GB/s\n", long(copy_mib), copy_gbs);
  Table table({"input", "batch", "kernel", "shape", "ms", "gb_per_s", "pct_of_copy", "peer",
               "peer_ms", "ours_speedup"});
  Progress progress("kernels", int64_t(cases.size()), stderr);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    progress.update(int64_t(i), c.kernel + " " + c.shape);
    validate(*be, *reference, c, gpu ? run_library_peer : nullptr);
    table.add(time_case(*be, c, gpu, repeats, flush, copy_gbs));
  }
  progress.finish("done");
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"), "\"bench\": \"kernels\", \"backend\": \"" + be->name() +
                                            "\", \"copy_gb_per_s\": " + fixed(copy_gbs, 2));
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
