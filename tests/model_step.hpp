// One training step of a ResNet on a host-memory backend (the CPU one unless given another), as
// the tests drive it: forward, softmax cross-entropy, backward, SGD update, then the step arena is
// reset.
#pragma once

#include "scenecam/nn.hpp"

namespace scenecam::test {

struct ModelRig {
  std::unique_ptr<Backend> backend;
  ResNet model;
  std::unique_ptr<Pool> arena;
  std::unique_ptr<Pool> state;  // momentum buffer and the loss
  Block momentum_block, loss_block;
  Tensor momentum, loss;

  ModelRig(const ResNetSpec& spec, uint64_t seed, DType dtype = DType::f32,
           std::unique_ptr<Backend> on = make_cpu_backend(2))
      : backend(std::move(on)), model(spec), arena(backend->make_pool("step", 0, true)) {
    model.materialize(*backend, seed, dtype);
    const Tensor values = model.params().values();
    state = backend->make_pool(
        "optimizer", pool_capacity({{values.shape(), dtype}, {Shape{1}, dtype}}), false);
    momentum_block = state->allocate_tensor(values.shape(), dtype, "momentum", &momentum);
    loss_block = state->allocate_tensor(Shape{1}, dtype, "loss", &loss);
    backend->fill(momentum, 0.0);
  }

  // Returns the loss before the update.
  double step(const Tensor& images, const Tensor& labels, const SgdParams& sgd,
              bool update = true) {
    StepContext ctx{*backend, *arena, true};
    Tensor logits = model.forward(ctx, images);
    Tensor dlogits = arena->take(logits.shape(), logits.dtype(), "dlogits");
    backend->softmax_cross_entropy(logits, labels, 0.0f, loss, dlogits);
    model.backward(ctx, dlogits);
    if (update) backend->sgd_update(sgd, model.params().values(), model.params().grads(), momentum);
    arena->reset();
    return loss.dtype() == DType::f64 ? loss.data<double>()[0] : loss.data<float>()[0];
  }
};

inline ResNetSpec tiny_spec() {
  ResNetSpec s;
  s.in_channels = 3;
  s.classes = 4;
  s.stem_channels = 8;
  s.stem_kernel = 3;
  s.stem_stride = 1;
  s.stem_pool = true;
  s.widths = {8, 12};
  s.blocks = {1, 1};
  return s;
}

}  // namespace scenecam::test
