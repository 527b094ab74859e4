// The engine's demonstration run: a small ResNet trained on synthetic scenes on the CPU backend,
// start to finish in well under a minute. It stands in for `scenecam train` until the config-driven
// training loop exists, and exercises every layer, the loss, the optimizer and the pools.
#pragma once

#include <cstdint>

namespace scenecam {

struct DemoOptions {
  int steps = 300;
  int batch = 32;
  int image_size = 32;
  int train_images = 3072;
  int val_images = 600;
  float lr = 0.05f;
  int threads = 0;  // 0: all cores
  uint64_t seed = 1;
};

struct DemoResult {
  double final_train_loss = 0;
  double val_accuracy = 0;
  double images_per_second = 0;
};

DemoResult run_demo(const DemoOptions& options);

}  // namespace scenecam
