// A check of the input pipeline on any backend: three batches through the staged path
// (BatchInput: uploads that do not wait, two staging slots in turn) and through the resident
// path (ResidentData: transforms drawn on the device) must be the same batches bit for bit, and
// equal the CPU backend's staged ones: the same labels, and images to 1e-4 (the kernels' sampling
// positions may round differently, into FMAs, and a bilinear sample moves with its position).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "scenecam/dataset.hpp"
#include "train/batch.hpp"
#include "train/resident.hpp"

namespace scenecam::test {

inline void expect_batches_equal_the_cpus(Backend& be) {
  const Dataset data = make_synthetic_dataset(40, 4, 0, 30);
  Split split;
  for (int64_t i = 0; i < 30; ++i)
    (i < 24 ? split.train : split.val).push_back(i);
  DataConfig cfg;
  cfg.image_size = 40;
  cfg.augment.crop = Crop::resized;
  constexpr int64_t B = 8;
  auto cpu = make_cpu_backend(2);
  BatchInput staged_cpu(*cpu, B, 40, 6, cfg), staged(be, B, 40, 6, cfg);
  ResidentData resident(be, data, cfg, split, B);
  const std::vector<int64_t> order(split.train.rbegin(), split.train.rend());
  resident.set_train_order(order);
  auto host_copy = [](Backend& owner, const Tensor& t) {
    std::vector<char> bytes(t.nbytes());
    owner.copy(t, Tensor(bytes.data(), t.shape(), t.dtype(), Device::cpu()));
    return bytes;
  };
  auto expect_near = [](const std::vector<char>& got, const std::vector<char>& want,
                        const char* what) {
    const auto* g = reinterpret_cast<const float*>(got.data());
    const auto* w = reinterpret_cast<const float*>(want.data());
    for (size_t i = 0; i < want.size() / sizeof(float); ++i)
      ASSERT_NEAR(g[i], w[i], 1e-4 * std::max(1.0f, std::abs(w[i]))) << what << ", element " << i;
  };
  for (int64_t step = 0; step < 3; ++step) {
    Tensor images[3], labels[3];
    staged_cpu.load(data, order.data() + step * B, B, true, 4, 2, &images[0], &labels[0]);
    staged.load(data, order.data() + step * B, B, true, 4, 2, &images[1], &labels[1]);
    resident.load(true, step * B, B, augment_epoch_seed(4, 2), &images[2], &labels[2]);
    const std::vector<char> got = host_copy(be, images[1]);
    EXPECT_EQ(host_copy(be, images[2]), got) << "resident vs staged, step " << step;
    expect_near(got, host_copy(*cpu, images[0]), "staged vs the CPU's");
    const std::vector<char> want_labels = host_copy(*cpu, labels[0]);
    EXPECT_EQ(host_copy(be, labels[1]), want_labels) << "staged, step " << step;
    EXPECT_EQ(host_copy(be, labels[2]), want_labels) << "resident, step " << step;
  }
  // Validation batches: the resident path's are not augmented.
  Tensor val_images[2], val_labels[2];
  staged_cpu.load(data, split.val.data(), 6, false, 4, 2, &val_images[0], &val_labels[0]);
  resident.load(false, 0, 6, augment_epoch_seed(4, 2), &val_images[1], &val_labels[1]);
  expect_near(host_copy(be, val_images[1]), host_copy(*cpu, val_images[0]), "validation");
  EXPECT_EQ(host_copy(be, val_labels[1]), host_copy(*cpu, val_labels[0])) << "validation";
}

}  // namespace scenecam::test
