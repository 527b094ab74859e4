// scenecam-bench train: full training steps (forward, loss, backward, SGD update) of a ResNet on
// random images, on the CPU or the CUDA backend. Prints images/s and ms/step (medians), the peak
// bytes of the activation arena and workspace, and the loss over the run, which must fall (the
// batch is fixed, so the model memorises it): the benchmark checks that before it reports.
#include <cmath>
#include <cstdio>
#include <random>

#include "bench_util.hpp"
#include "scenecam/config.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/nn.hpp"

namespace scenecam::bench {

std::unique_ptr<Backend> bench_backend(const std::string& device, int threads) {
  if (device == "cpu") return make_cpu_backend(threads);
  SC_CHECK(device.rfind("cuda", 0) == 0, "--device must be cpu, cuda or cuda:N, got '", device, "'");
  CudaOptions o;
  o.device = Device::parse(device).index;
  return make_cuda_backend(o);
}

int run_train(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"}, {"arch", "resnet18"}, {"batch", "16"}, {"input", "64"},
                     {"steps", "10"}, {"classes", "6"}, {"threads", "0"}, {"json", ""}});
  const int64_t B = flags.integer("batch"), S = flags.integer("input");
  const int steps = static_cast<int>(flags.integer("steps"));
  SC_CHECK(B >= 2 && S >= 32 && steps >= 3, "need --batch >= 2, --input >= 32, --steps >= 3");
  auto backend = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));

  ModelConfig mc;
  mc.arch = flags.str("arch");
  mc.classes = flags.integer("classes");
  ResNet model(resnet_spec(mc));
  model.materialize(*backend, 1);
  auto state = backend->make_pool("bench state", model.params().values().nbytes() + B * 3 * S * S * 4 +
                                                     B * 4 + 4 * kPoolAlignment, false);
  const Tensor momentum = state->take(model.params().values().shape(), DType::f32, "momentum");
  const Tensor images = state->take(Shape{B, 3, S, S}, DType::f32, "images");
  const Tensor labels = state->take(Shape{B}, DType::i32, "labels");
  const Tensor loss = state->take(Shape{1}, DType::f32, "loss");
  backend->fill(momentum, 0.0);
  {
    std::vector<float> host(B * 3 * S * S);
    std::mt19937_64 rng(2);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : host) v = normal(rng);
    std::vector<int32_t> host_labels(B);
    for (int64_t i = 0; i < B; ++i) host_labels[i] = static_cast<int32_t>(i % mc.classes);
    backend->copy(Tensor(host.data(), images.shape(), DType::f32, Device::cpu()), images);
    backend->copy(Tensor(host_labels.data(), labels.shape(), DType::i32, Device::cpu()), labels);
  }
  auto arena = backend->make_pool("activations", 0, true);
  SgdParams sgd;
  sgd.lr = 0.02f;
  std::vector<float> losses;
  auto step = [&] {
    StepContext ctx{*backend, *arena, true};
    const Tensor logits = model.forward(ctx, images);
    const Tensor dlogits = arena->take(logits.shape(), DType::f32, "dlogits");
    backend->softmax_cross_entropy(logits, labels, 0.0f, loss, dlogits);
    model.backward(ctx, dlogits);
    backend->sgd_update(sgd, model.params().values(), model.params().grads(), momentum);
    arena->reset();
    float l = 0;
    backend->copy(loss, Tensor(&l, Shape{1}, DType::f32, Device::cpu()));  // also synchronises
    losses.push_back(l);
  };
  std::printf("scenecam-bench train: %s on %s, batch %ld, %ldx%ld, %d timed steps after 2 warm-up\n",
              mc.arch.c_str(), backend->name().c_str(), long(B), long(S), long(S), steps);
  const double seconds = median_seconds(step, 2, steps);
  const float first_loss = losses.front(), last_loss = losses.back();
  SC_CHECK(std::isfinite(last_loss) && last_loss < first_loss, "train benchmark: the loss did not fall (",
           first_loss, " -> ", last_loss, "); the step is broken, not slow");
  Table table({"arch", "device", "batch", "input", "ms_per_step", "images_per_s", "loss_first",
               "loss_last", "arena_peak_mib", "workspace_peak_mib"});
  table.add({mc.arch, backend->name(), std::to_string(B), std::to_string(S), fixed(seconds * 1e3, 2),
             fixed(B / seconds, 1), fixed(first_loss, 4), fixed(last_loss, 4),
             fixed(arena->stats().peak / 1048576.0, 1),
             fixed(backend->workspace_stats().peak / 1048576.0, 1)});
  table.print();
  if (!flags.str("json").empty()) table.write_json(flags.str("json"), "\"bench\": \"train\"");
  return 0;
}

}  // namespace scenecam::bench
