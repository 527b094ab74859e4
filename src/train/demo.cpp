// The demonstration run: synthetic scenes -> small ResNet -> SGD with momentum and a cosine
// schedule -> validation accuracy. Everything the step touches is laid out before the first step.
#include "scenecam/demo.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "scenecam/data.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/progress.hpp"

namespace scenecam {
namespace {

struct Dataset {
  std::vector<ImageU8> images;
  std::vector<int32_t> labels;
};

Dataset draw(const SyntheticScenes& scenes, int64_t first, int count) {
  Dataset d;
  d.images.reserve(count);
  for (int i = 0; i < count; ++i) {
    int label;
    Box box;
    d.images.push_back(scenes.draw(first + i, &label, &box));
    d.labels.push_back(label);
  }
  return d;
}

}  // namespace

DemoResult run_demo(const DemoOptions& o) {
  SC_CHECK(o.steps >= 1 && o.batch >= 2 && o.train_images >= o.batch && o.val_images >= 1,
           "demo: need steps >= 1, batch >= 2, train images >= batch, validation images >= 1");
  auto backend = make_cpu_backend(o.threads);
  const SyntheticScenes scenes(o.image_size, o.seed);
  std::printf("demo: drawing %d training and %d validation synthetic scenes (%dx%d, %d classes)\n",
              o.train_images, o.val_images, o.image_size, o.image_size, SyntheticScenes::kClasses);
  const Dataset train = draw(scenes, 0, o.train_images);
  const Dataset val = draw(scenes, o.train_images, o.val_images);

  ResNetSpec spec;
  spec.classes = SyntheticScenes::kClasses;
  spec.stem_channels = 16;
  spec.stem_kernel = 3;
  spec.stem_stride = 1;
  spec.widths = {16, 32, 64};
  spec.blocks = {1, 1, 1};
  ResNet model(spec);
  model.materialize(*backend, o.seed);
  Parameters& params = model.params();
  std::printf("demo: ResNet (%zu stages) with %ld parameters on the %s backend\n",
              spec.widths.size(), static_cast<long>(params.trainable_count()),
              backend->name().c_str());

  // Everything a step reads or writes besides activations, laid out once.
  const int64_t S = o.image_size;
  const Shape image_shape{o.batch, 3, S, S};
  auto state = backend->make_pool(
      "demo state",
      params.values().nbytes() + 3 * kPoolAlignment + image_shape.numel() * 4 + o.batch * 4, false);
  Tensor momentum, loss, images, labels;
  Block momentum_block =
      state->allocate_tensor(params.values().shape(), DType::f32, "momentum", &momentum);
  Block loss_block = state->allocate_tensor(Shape{1}, DType::f32, "loss", &loss);
  Block image_block = state->allocate_tensor(image_shape, DType::f32, "images", &images);
  Block label_block = state->allocate_tensor(Shape{o.batch}, DType::i32, "labels", &labels);
  backend->fill(momentum, 0.0);
  const int64_t decayed = params.decayed_values().numel();
  const Tensor momentum_decayed = momentum.slice_flat(0, decayed);
  const Tensor momentum_other = momentum.slice_flat(decayed, momentum.numel());
  auto arena = backend->make_pool("activations", 0, /*growable=*/true);

  const Normalization norm;
  std::vector<const ImageU8*> batch(o.batch);
  std::vector<int64_t> order(train.images.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  size_t cursor = 0;

  SgdParams sgd;
  sgd.momentum = 0.9f;
  sgd.nesterov = true;
  const float weight_decay = 5e-4f;
  const int warmup = std::max(1, o.steps / 20);

  Progress progress("train", o.steps);
  double recent_loss = 0, recent_correct = 0, recent_seen = 0;
  const auto start = std::chrono::steady_clock::now();
  DemoResult result;
  for (int step = 0; step < o.steps; ++step) {
    if (cursor + o.batch > order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      cursor = 0;
    }
    for (int k = 0; k < o.batch; ++k) {
      const int64_t i = order[cursor++];
      batch[k] = &train.images[i];
      labels.data<int32_t>()[k] = train.labels[i];
    }
    images_to_tensor(batch, norm, images);

    // Linear warm-up, then cosine decay to zero.
    sgd.lr = step < warmup
                 ? o.lr * (step + 1) / warmup
                 : 0.5f * o.lr * (1 + std::cos(M_PI * (step - warmup) / (o.steps - warmup)));
    StepContext ctx{*backend, *arena, true};
    const Tensor logits = model.forward(ctx, images);
    const Tensor dlogits = arena->take(logits.shape(), DType::f32, "dlogits");
    backend->softmax_cross_entropy(logits, labels, 0.0f, loss, dlogits);
    model.backward(ctx, dlogits);
    sgd.weight_decay = weight_decay;
    backend->sgd_update(sgd, params.decayed_values(), params.decayed_grads(), momentum_decayed);
    sgd.weight_decay = 0.0f;
    backend->sgd_update(sgd, params.other_values(), params.other_grads(), momentum_other);

    const float step_loss = loss.data<float>()[0];
    SC_CHECK(std::isfinite(step_loss), "demo: the loss became ", step_loss, " at step ", step + 1,
             "; stopping (learning rate ", sgd.lr, ")");
    const float* z = logits.data<float>();
    for (int k = 0; k < o.batch; ++k) {
      const float* row = z + k * spec.classes;
      recent_correct +=
          (std::max_element(row, row + spec.classes) - row) == labels.data<int32_t>()[k];
    }
    recent_loss += step_loss * o.batch;
    recent_seen += o.batch;
    arena->reset();
    if ((step + 1) % 10 == 0 || step + 1 == o.steps) {
      char status[96];
      std::snprintf(status, sizeof status, "loss %.3f  acc %.1f%%  lr %.4f",
                    recent_loss / recent_seen, 100 * recent_correct / recent_seen, sgd.lr);
      progress.update(step + 1, status);
      result.final_train_loss = recent_loss / recent_seen;
      recent_loss = recent_correct = recent_seen = 0;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.images_per_second = double(o.steps) * o.batch / seconds;
  progress.finish("done");

  // Validation in inference mode (running batch-norm statistics), in batches.
  int64_t correct = 0;
  for (size_t first = 0; first < val.images.size(); first += o.batch) {
    const int n = static_cast<int>(std::min<size_t>(o.batch, val.images.size() - first));
    batch.resize(n);
    for (int k = 0; k < n; ++k)
      batch[k] = &val.images[first + k];
    const Tensor view(images.raw(), Shape{n, 3, S, S}, DType::f32, images.device());
    images_to_tensor(batch, norm, view);
    StepContext ctx{*backend, *arena, false};
    const Tensor logits = model.forward(ctx, view);
    for (int k = 0; k < n; ++k) {
      const float* row = logits.data<float>() + k * spec.classes;
      correct += (std::max_element(row, row + spec.classes) - row) == val.labels[first + k];
    }
    arena->reset();
  }
  result.val_accuracy = double(correct) / val.images.size();
  std::printf(
      "demo: %d steps in %.1fs (%.0f images/s); validation accuracy %.1f%% on %zu images "
      "(chance %.1f%%)\n",
      o.steps, seconds, result.images_per_second, 100 * result.val_accuracy, val.images.size(),
      100.0 / spec.classes);
  std::printf(
      "demo: activation arena peak %.1f MiB, workspace peak %.1f MiB, %zu + %zu underlying "
      "allocations\n",
      arena->stats().peak / 1048576.0, backend->workspace_stats().peak / 1048576.0,
      arena->stats().allocations, backend->workspace_stats().allocations);
  return result;
}

}  // namespace scenecam
