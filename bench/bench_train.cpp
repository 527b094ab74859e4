// scenecam-bench train: full training steps (forward, loss, backward, optimizer update) of a
// ResNet, from a config or a named architecture, on random images at each given batch size, on
// the CPU or the CUDA backend. Prints images/s and ms/step (medians), the peak bytes of the
// activation arena and workspace, the share of time per layer type (from a few extra profiled
// steps), and the loss over the run, which must fall (the batch is fixed, so the model memorises
// it): the benchmark checks that before it reports. --graphs times steps replayed from one
// recording (CUDA graphs), as runtime.cuda_graphs trains.
#include <array>
#include <cmath>
#include <cstdio>
#include <random>

#include "bench_util.hpp"
#include "internal/progress.hpp"
#include "profiling_backend.hpp"
#include "scenecam/config.hpp"
#include "scenecam/nn.hpp"

namespace scenecam::bench {

namespace {

struct TrainResult {
  double seconds;  // median per step
  float first_loss, last_loss;
  double arena_peak, workspace_peak;
  double device_peak;  // weights, gradients, optimizer state, the batch, arena and workspace peaks
  std::array<double, kOpKinds> share;  // of the profiled steps' op time
};

// Steps of `model` on a fixed random batch of B images of side S. The plain steps give the time;
// `profile_steps` more run through a ProfilingBackend for the share of time per layer type. With
// `graphs`, the timed steps after the warm-up replay one recording (Backend::record_step), their
// optimizer numbers read from device memory as the trainer's are; *recorded says if one was made.
TrainResult run_batch(Backend& backend, const RunConfig& config, int64_t B, int64_t S, int steps,
                      int profile_steps, bool graphs, bool* recorded) {
  const ModelConfig& mc = config.model;
  const OptimizerConfig& oc = config.train.optimizer;
  ResNet model(resnet_spec(mc));
  model.materialize(backend, 1);
  const Shape arena_shape = model.params().values().shape();
  auto state = backend.make_pool(
      "bench state",
      2 * model.params().values().nbytes() + B * 3 * S * S * 4 + B * 4 + 10 * kPoolAlignment, false);
  const Tensor m = state->take(arena_shape, DType::f32, "optimizer m");
  const Tensor v = state->take(arena_shape, DType::f32, "optimizer v");
  const Tensor images = state->take(Shape{B, 3, S, S}, DType::f32, "images");
  const Tensor labels = state->take(Shape{B}, DType::i32, "labels");
  const Tensor loss = state->take(Shape{1}, DType::f32, "loss");
  const Tensor step_fields = state->take(Shape{kAdamWStepFields}, DType::f32, "optimizer step");
  backend.fill(m, 0.0);
  backend.fill(v, 0.0);
  {
    std::vector<float> host(B * 3 * S * S);
    std::mt19937_64 rng(2);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : host)
      x = normal(rng);
    std::vector<int32_t> host_labels(B);
    for (int64_t i = 0; i < B; ++i)
      host_labels[i] = static_cast<int32_t>(i % mc.classes);
    backend.copy(Tensor(host.data(), images.shape(), DType::f32, Device::cpu()), images);
    backend.copy(Tensor(host_labels.data(), labels.shape(), DType::i32, Device::cpu()), labels);
  }
  auto arena = backend.make_pool("activations", 0, true);
  SgdParams sgd;
  sgd.lr = float(oc.lr);
  sgd.momentum = float(oc.momentum);
  sgd.nesterov = oc.nesterov;
  sgd.weight_decay = float(oc.weight_decay);
  sgd.decoupled_weight_decay = oc.decoupled_weight_decay;
  AdamWParams adam;
  adam.lr = float(oc.lr);
  adam.beta1 = float(oc.beta1);
  adam.beta2 = float(oc.beta2);
  adam.eps = float(oc.eps);
  adam.weight_decay = float(oc.weight_decay);
  int64_t step_count = 0;
  std::vector<float> losses;
  const Tensor values = model.params().values(), grads = model.params().grads();
  auto forward_backward = [&](Backend& be) {
    StepContext ctx{be, *arena, true};
    const Tensor logits = model.forward(ctx, images);
    const Tensor dlogits = arena->take(logits.shape(), DType::f32, "dlogits");
    be.softmax_cross_entropy(logits, labels, float(config.train.label_smoothing), loss, dlogits);
    model.backward(ctx, dlogits);
  };
  auto step = [&](Backend& be) {
    forward_backward(be);
    if (oc.name == Optimizer::adamw)
      be.adamw_update(adam, ++step_count, values, grads, m, v);
    else
      be.sgd_update(sgd, values, grads, m);
    arena->reset();
  };
  // The recorded form: the update's numbers in step_fields, written before each replay.
  auto recordable_step = [&] {
    forward_backward(backend);
    if (oc.name == Optimizer::adamw)
      backend.adamw_update_from(step_fields, values, grads, m, v);
    else
      backend.sgd_update_from(step_fields.slice_flat(0, kSgdStepFields), values, grads, m);
  };
  std::unique_ptr<Backend::RecordedStep> graph;
  int64_t eager_steps = 0;
  auto graph_step = [&] {
    float fields[kAdamWStepFields] = {};
    if (oc.name == Optimizer::adamw)
      adamw_step_to_fields(adamw_step(adam, ++step_count), fields);
    else
      sgd_step_to_fields(sgd_step(sgd), fields);
    backend.copy(Tensor(fields, step_fields.shape(), DType::f32, Device::cpu()), step_fields);
    if (!graph && eager_steps >= 2) graph = backend.record_step(recordable_step);
    if (graph) {
      graph->replay();
    } else {
      recordable_step();
      ++eager_steps;
    }
    arena->reset();
  };
  auto read_loss = [&] {
    float l = 0;
    backend.copy(loss, Tensor(&l, Shape{1}, DType::f32, Device::cpu()));  // also synchronises
    losses.push_back(l);
  };
  TrainResult r{};
  r.seconds = median_seconds(
      [&] {
        if (graphs)
          graph_step();
        else
          step(backend);
        read_loss();
      },
      2, steps);
  *recorded = graph != nullptr;
  r.first_loss = losses.front();
  r.last_loss = losses.back();
  SC_CHECK(std::isfinite(r.last_loss) && r.last_loss < r.first_loss,
           "train benchmark: the loss did not fall (", r.first_loss, " -> ", r.last_loss,
           ") at batch ", B, "; the step is broken, not slow");
  r.arena_peak = arena->stats().peak;
  r.workspace_peak = backend.workspace_stats().peak;
  r.device_peak = 2.0 * double(model.params().values().nbytes()) + double(state->stats().reserved) +
                  r.arena_peak + r.workspace_peak;
  ProfilingBackend profiler(backend);
  for (int i = 0; i < profile_steps; ++i)
    step(profiler);
  double total = 0;
  for (double t : profiler.seconds())
    total += t;
  for (int k = 0; k < kOpKinds; ++k)
    r.share[k] = total > 0 ? profiler.seconds()[k] / total : 0;
  return r;
}

}  // namespace

int run_train(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"},
                     {"config", ""},
                     {"arch", "resnet18"},
                     {"batch", ""},
                     {"input", ""},
                     {"steps", ""},
                     {"classes", "6"},
                     {"threads", "0"},
                     {"json", ""}},
                    {"graphs"});
  const bool graphs = flags.given("graphs");
  auto backend = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));
  const bool gpu = backend->device().is_cuda();
  RunConfig config = bench_config(flags);
  const int64_t S = flags.given("input")         ? flags.integer("input")
                    : config.data.image_size > 0 ? config.data.image_size
                    : gpu                        ? 224
                                                 : 64;
  const std::vector<long> batches = flags.given("batch") ? flags.integers("batch")
                                    : gpu                ? std::vector<long>{32, 64, 128, 256}
                                                         : std::vector<long>{16};
  const int steps = flags.given("steps") ? static_cast<int>(flags.integer("steps")) : gpu ? 30 : 8;
  SC_USAGE_CHECK(S >= 32 && steps >= 3, "need --input >= 32 and --steps >= 3");
  for (long B : batches)
    SC_USAGE_CHECK(B >= 2, "--batch ", B, " is below 2");

  std::printf(
      "scenecam-bench train: %s (%s) on %s, %ldx%ld, %d timed steps after 2 warm-up, "
      "then 3 profiled steps for the share of time per layer type\n",
      config.model.arch.c_str(), name_of(config.train.optimizer.name), backend->name().c_str(),
      long(S), long(S), steps);
  std::vector<std::string> columns{
      "arch",         "device",     "batch",     "input",          "ms_per_step",
      "images_per_s", "loss_first", "loss_last", "arena_peak_mib", "workspace_peak_mib",
      "device_peak_mib", "graphs"};
  for (int k = 0; k < kOpKinds; ++k)
    columns.push_back(std::string("pct_") + op_kind_name(static_cast<OpKind>(k)));
  Table table(columns);
  Progress progress("train", int64_t(batches.size()), stderr);
  for (size_t i = 0; i < batches.size(); ++i) {
    const long B = batches[i];
    progress.update(int64_t(i), "batch " + std::to_string(B));
    bool recorded = false;
    const TrainResult r = run_batch(*backend, config, B, S, steps, 3, graphs, &recorded);
    if (graphs && !recorded)
      std::printf("--graphs: the %s backend records no steps; batch %ld ran op by op\n",
                  backend->name().c_str(), B);
    std::vector<std::string> row{config.model.arch,
                                 backend->name(),
                                 std::to_string(B),
                                 std::to_string(S),
                                 fixed(r.seconds * 1e3, 2),
                                 fixed(B / r.seconds, 1),
                                 fixed(r.first_loss, 4),
                                 fixed(r.last_loss, 4),
                                 fixed(r.arena_peak / 1048576.0, 1),
                                 fixed(r.workspace_peak / 1048576.0, 1),
                                 fixed(r.device_peak / 1048576.0, 1),
                                 recorded ? "yes" : "no"};
    for (double share : r.share)
      row.push_back(fixed(100 * share, 1));
    table.add(row);
  }
  progress.finish("done");
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"),
                     "\"bench\": \"train\", \"backend\": \"" + backend->name() + "\"");
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
