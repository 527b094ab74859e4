// scenecam-bench kernels: every custom memory-bound kernel at the shapes a ResNet-18 training
// step (and a Grad-CAM batch) produces for the given inputs and batch sizes, with the achieved
// bandwidth beside the device's copy bandwidth measured in the same run, and, on the CUDA backend,
// the cuDNN / cuBLAS routine that does the same job timed beside ours.
//
// Before anything is timed, each kernel runs once on random inputs with its outputs poisoned
// (NaN) and is compared with a separate CPU backend on the same inputs (on the CPU backend that
// checks every output was written); each library peer is compared with our kernel's output.
//
// Timing: the median of `repeats` runs measured by Backend::time_seconds (stream events on the
// GPU), each run preceded, outside the timing, by a write over a buffer larger than the
// last-level cache, so that no run finds its inputs cached by the previous one.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "bench_util.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/elementwise.hpp"
#include "scenecam/progress.hpp"

namespace scenecam::bench {

namespace {

enum class Role { input, output, inout, scratch };  // scratch: written, not compared

struct Arg {
  std::string name;
  Shape shape;
  DType dtype;
  Role role;
};

using Args = std::vector<Tensor>;

// One kernel at one shape: its arguments, the bytes one call must move at least (the traffic a
// perfect kernel would make), our call, and optionally the library routine that does the same
// job with the arguments it takes (indices into args: a, b, y; -1 = not used).
struct Case {
  std::string input, batch, kernel, shape;
  std::vector<Arg> args;
  double bytes;
  std::function<void(Backend&, const Args&)> run;
  bool has_peer = false;
  LibraryPeer peer{};
  int peer_a = -1, peer_b = -1, peer_y = -1;
  bool peer_only = false;  // a repeat of the previous kernel for a second peer: GPU runs only
};

// c with a library peer that takes arguments a, b, y of c (indices; -1: not used).
Case peered(Case c, LibraryPeer peer, int a, int b, int y) {
  c.has_peer = true;
  c.peer = peer;
  c.peer_a = a;
  c.peer_b = b;
  c.peer_y = y;
  return c;
}

// A cheap deterministic generator (splitmix64): filling hundreds of MB through std::mt19937
// would take longer than the benchmark.
uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Host contents for an argument: random inputs (uniform in [-1, 1); labels in [0, 6); pixels in
// [0, 256); crop-and-flip transforms; AdamW's v in [0, 1)), NaN for outputs.
std::vector<char> host_values(const Arg& a, uint64_t seed) {
  std::vector<char> bytes(a.shape.numel() * dtype_size(a.dtype));
  uint64_t state = seed;
  const int64_t n = a.shape.numel();
  if (a.dtype == DType::u8) {
    for (auto& b : bytes)
      b = static_cast<char>(splitmix(state) & 0xff);
  } else if (a.dtype == DType::i32) {
    auto* p = reinterpret_cast<int32_t*>(bytes.data());
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<int32_t>(splitmix(state) % 6);
  } else if (a.name == "transforms") {
    auto* t = reinterpret_cast<SampleTransform*>(bytes.data());
    for (int64_t i = 0; i < a.shape[0]; ++i) {
      t[i].x0 = t[i].y0 = 3.0f;
      t[i].sx = t[i].sy = 0.875f;  // a resized crop: the bilinear path, the costlier one
      t[i].flip = static_cast<float>(i % 2);
      t[i].bilinear = 1.0f;
    }
  } else {
    auto* p = reinterpret_cast<float*>(bytes.data());
    if (a.role == Role::output || a.role == Role::scratch) {
      for (int64_t i = 0; i < n; ++i)
        p[i] = std::nanf("");
    } else {
      for (int64_t i = 0; i < n; ++i)
        p[i] = static_cast<float>(static_cast<double>(splitmix(state) >> 11) * 0x1.0p-52 - 1.0);
      if (a.name == "v")  // AdamW's second moment is a running mean of squares
        for (int64_t i = 0; i < n; ++i)
          p[i] = std::abs(p[i]);
    }
  }
  return bytes;
}

// A case's arguments as tensors of one backend, in one pool.
struct Bound {
  std::unique_ptr<Pool> pool;
  Args t;
  Bound(Backend& be, const Case& c) {
    size_t total = 0;
    for (const Arg& a : c.args)
      total += a.shape.numel() * dtype_size(a.dtype) + kPoolAlignment;
    pool = be.make_pool("bench " + c.kernel, total, false);
    for (const Arg& a : c.args)
      t.push_back(pool->take(a.shape, a.dtype, a.name));
  }
  void upload(Backend& be, const Case& c) {
    for (size_t i = 0; i < c.args.size(); ++i) {
      std::vector<char> v = host_values(c.args[i], 1000 + i);
      be.copy(Tensor(v.data(), c.args[i].shape, c.args[i].dtype, Device::cpu()), t[i]);
    }
  }
  std::vector<float> download(Backend& be, int i) {
    std::vector<float> v(t[i].numel());
    be.copy(t[i], Tensor(v.data(), t[i].shape(), DType::f32, Device::cpu()));
    return v;
  }
};

// got vs want: every element finite and within rtol relative + atol absolute.
void compare(const Case& c, const std::string& what, const std::string& arg,
             const std::vector<float>& got, const std::vector<float>& want, double rtol,
             double atol) {
  for (size_t i = 0; i < got.size(); ++i) {
    SC_CHECK(std::isfinite(got[i]), "kernel benchmark: ", what, " ", c.kernel, " ", c.shape,
             ": output '", arg, "' element ", i, " is ", got[i], " (never written?)");
    SC_CHECK(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]),
             "kernel benchmark: ", what, " ", c.kernel, " ", c.shape, ": output '", arg,
             "' element ", i, " is ", got[i], ", the CPU reference says ", want[i]);
  }
}

// Runs the case on `be` and on the CPU reference with the same inputs and compares the float
// outputs; then (with_peer) the library peer, if any, against our output. Returns nothing: it
// throws.
void validate(Backend& be, Backend& reference, const Case& c, bool with_peer) {
  Bound ours(be, c), ref(reference, c);
  ours.upload(be, c);
  ref.upload(reference, c);
  c.run(be, ours.t);
  c.run(reference, ref.t);
  std::vector<std::vector<float>> outputs(c.args.size());
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i].role == Role::input || c.args[i].role == Role::scratch ||
        c.args[i].dtype != DType::f32)
      continue;
    outputs[i] = ours.download(be, int(i));
    compare(c, "ours", c.args[i].name, outputs[i], ref.download(reference, int(i)), 1e-4, 1e-5);
  }
  if (!with_peer || !c.has_peer) return;
  ours.upload(be, c);
  const Tensor none;
  run_library_peer(be, c.peer, ours.t[c.peer_a], c.peer_b >= 0 ? ours.t[c.peer_b] : none,
                   ours.t[c.peer_y]);
  compare(c, library_peer_name(c.peer), c.args[c.peer_y].name, ours.download(be, c.peer_y),
          outputs[c.peer_y], 1e-4, 1e-5);
}

// ResNet-18's spatial sides for a square input: layer1 (after the stem and max pool) and layer4.
struct Sides {
  int64_t layer1, layer4;
};
Sides resnet18_sides(int64_t input) {
  int64_t s = (input + 1) / 2;  // conv1, stride 2, padding 3
  s = (s + 1) / 2;              // max pool 3x3/2, padding 1
  const int64_t layer1 = s;
  for (int i = 0; i < 3; ++i)
    s = (s + 1) / 2;  // the first conv of layer2..4, stride 2
  return {layer1, s};
}

std::string shape_text(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i)
    out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// Every kernel at the shapes one (input, batch) produces.
std::vector<Case> step_cases(int64_t S, int64_t B) {
  constexpr int64_t kClasses = 6;
  const Sides sides = resnet18_sides(S);
  const std::string in = std::to_string(S), bt = std::to_string(B);
  std::vector<Case> cases;
  auto f32 = [](std::string n, Shape s, Role r) {
    return Arg{std::move(n), std::move(s), DType::f32, r};
  };
  for (const auto& [stage, shape] :
       {std::pair<const char*, Shape>{"layer1", {B, 64, sides.layer1, sides.layer1}},
        {"layer4", {B, 512, sides.layer4, sides.layer4}}}) {
    const double n = shape.numel();
    Case fwd{
        in,
        bt,
        std::string("add_relu forward ") + stage,
        shape_text(shape),
        {f32("a", shape, Role::input), f32("b", shape, Role::input), f32("y", shape, Role::output)},
        12 * n,
        [](Backend& be, const Args& t) { be.add_relu_forward(t[0], t[1], t[2]); }};
    cases.push_back(peered(fwd, LibraryPeer::op_tensor_add_relu, 0, 1, 2));
    Case bwd{in,
             bt,
             std::string("add_relu backward ") + stage,
             shape_text(shape),
             {f32("y", shape, Role::input), f32("dy", shape, Role::input),
              f32("dsum", shape, Role::output)},
             12 * n,
             [](Backend& be, const Args& t) { be.add_relu_backward(t[0], t[1], t[2]); }};
    cases.push_back(peered(bwd, LibraryPeer::activation_backward, 0, 1, 2));
    Case acc{in,
             bt,
             std::string("add_ (dst += src) ") + stage,
             shape_text(shape),
             {f32("dst", shape, Role::inout), f32("src", shape, Role::input)},
             12 * n,
             [](Backend& be, const Args& t) { be.add_(t[0], t[1]); }};
    cases.push_back(peered(acc, LibraryPeer::add_tensor, 1, -1, 0));
    acc.peer_only = true;  // the same kernel again, beside cuBLAS this time
    cases.push_back(peered(acc, LibraryPeer::axpy, 1, -1, 0));
  }

  const Shape last{B, 512, sides.layer4, sides.layer4}, pooled{B, 512};
  const double n4 = last.numel(), hw = sides.layer4 * sides.layer4;
  Case gap{in,
           bt,
           "global_avg_pool forward",
           shape_text(last),
           {f32("x", last, Role::input), f32("y", pooled, Role::output)},
           4 * (n4 + n4 / hw),
           [](Backend& be, const Args& t) { be.global_avg_pool_forward(t[0], t[1]); }};
  cases.push_back(peered(gap, LibraryPeer::avg_pool_forward, 0, -1, 1));
  Case gap_bwd{in,
               bt,
               "global_avg_pool backward",
               shape_text(last),
               {f32("dy", pooled, Role::input), f32("dx", last, Role::output)},
               4 * (n4 + n4 / hw),
               [](Backend& be, const Args& t) { be.global_avg_pool_backward(t[0], t[1]); }};
  cases.push_back(peered(gap_bwd, LibraryPeer::avg_pool_backward, 0, 1, 1));

  const Shape logits{B, kClasses};
  cases.push_back(
      {in,
       bt,
       "softmax_cross_entropy",
       shape_text(logits),
       {f32("logits", logits, Role::input), Arg{"labels", Shape{B}, DType::i32, Role::input},
        f32("loss", Shape{1}, Role::output), f32("dlogits", logits, Role::output)},
       4.0 * (2 * B * kClasses + B + 1),
       [](Backend& be, const Args& t) { be.softmax_cross_entropy(t[0], t[1], 0.1f, t[2], t[3]); }});

  const Shape pixels{B, S, S, 3}, images{B, 3, S, S};
  cases.push_back(
      {in,
       bt,
       "augment_batch (u8 -> f32)",
       shape_text(pixels),
       {Arg{"pixels", pixels, DType::u8, Role::input},
        f32("transforms", Shape{B, kTransformFields}, Role::input),
        f32("images", images, Role::output)},
       double(pixels.numel()) + 4.0 * images.numel(),
       [](Backend& be, const Args& t) { be.augment_batch(t[0], t[1], Normalization{}, t[2]); }});

  // Grad-CAM at the last stage (pytorch-grad-cam's default target layer for a ResNet).
  const Shape cam{B, sides.layer4, sides.layer4}, map{B, S, S};
  Case weights{in,
               bt,
               "cam channel weights",
               shape_text(last),
               {f32("grads", last, Role::input), f32("weights", pooled, Role::output)},
               4 * (n4 + n4 / hw),
               [](Backend& be, const Args& t) { be.cam_channel_weights(t[0], t[1]); }};
  cases.push_back(peered(weights, LibraryPeer::avg_pool_forward, 0, -1, 1));
  cases.push_back({in,
                   bt,
                   "cam weighted sum + relu",
                   shape_text(last),
                   {f32("acts", last, Role::input), f32("weights", pooled, Role::input),
                    f32("cam", cam, Role::output)},
                   4 * (n4 + n4 / hw + double(cam.numel())),
                   [](Backend& be, const Args& t) { be.cam_weighted_sum_relu(t[0], t[1], t[2]); }});
  cases.push_back({in,
                   bt,
                   "cam scale (resize + min-max)",
                   shape_text(cam) + "->" + std::to_string(S),
                   {f32("cam", cam, Role::input), f32("scratch", Shape{cam.numel()}, Role::scratch),
                    f32("map", map, Role::output)},
                   4.0 * (cam.numel() + map.numel()),
                   [](Backend& be, const Args& t) { be.cam_scale(t[0], t[1], t[2]); }});
  return cases;
}

// The optimizer updates over ResNet-18's whole parameter arena (independent of input and batch).
std::vector<Case> optimizer_cases() {
  const int64_t params = 11689512;
  const Shape p{params};
  auto arg = [&](const char* n, Role r) { return Arg{n, p, DType::f32, r}; };
  SgdParams sgd;
  sgd.lr = 1e-6f;  // small steps keep the values bounded over many repeats
  AdamWParams adam;
  adam.lr = 1e-6f;
  return {
      {"-",
       "-",
       "sgd update (momentum, nesterov)",
       std::to_string(params),
       {arg("params", Role::inout), arg("grads", Role::input), arg("momentum", Role::inout)},
       20.0 * params,
       [sgd](Backend& be, const Args& t) {
         SgdParams s = sgd;
         s.nesterov = true;
         s.weight_decay = 5e-4f;
         be.sgd_update(s, t[0], t[1], t[2]);
       }},
      {"-",
       "-",
       "adamw update",
       std::to_string(params),
       {arg("params", Role::inout), arg("grads", Role::input), arg("m", Role::inout),
        arg("v", Role::inout)},
       28.0 * params,
       [adam](Backend& be, const Args& t) { be.adamw_update(adam, 3, t[0], t[1], t[2], t[3]); }},
  };
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

  std::vector<Case> cases;
  for (long S : inputs)
    for (long B : batches)
      for (Case& c : step_cases(S, B))
        cases.push_back(std::move(c));
  for (Case& c : optimizer_cases())
    cases.push_back(std::move(c));
  if (!gpu)
    cases.erase(
        std::remove_if(cases.begin(), cases.end(), [](const Case& c) { return c.peer_only; }),
        cases.end());

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
    validate(*be, *reference, c, gpu);
    Bound bound(*be, c);
    bound.upload(*be, c);
    const double t = device_median_seconds(
        *be, [&] { c.run(*be, bound.t); }, 3, repeats, flush);
    const double gbs = c.bytes / t / 1e9;
    std::string peer = "-", peer_ms = "-", speedup = "-";
    if (gpu && c.has_peer) {
      const Tensor none;
      const Tensor& pa = bound.t[c.peer_a];
      const Tensor& pb = c.peer_b >= 0 ? bound.t[c.peer_b] : none;
      const Tensor& py = bound.t[c.peer_y];
      const double tp = device_median_seconds(
          *be, [&] { run_library_peer(*be, c.peer, pa, pb, py); }, 3, repeats, flush);
      peer = library_peer_name(c.peer);
      peer_ms = significant(tp * 1e3, 4);
      speedup = fixed(tp / t, 2);
    }
    table.add({c.input, c.batch, c.kernel, c.shape, significant(t * 1e3, 4), fixed(gbs, 1),
               fixed(100 * gbs / copy_gbs, 0), peer, peer_ms, speedup});
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
