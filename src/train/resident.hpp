// A dataset kept on the backend's device (data.on_device): every decoded image and label is
// uploaded once, the training order once per epoch and the validation list once, and each batch
// is drawn, gathered, augmented and normalised there by Backend::gather_batch, so a step does no
// host work and copies nothing. The transforms are drawn as the host path (BatchInput) draws
// them, so both give the same batches (bit for bit on the CPU backend; see draw_sample_transform
// for the GPU).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

class ResidentData {
 public:
  ResidentData(Backend& backend, const Dataset& data, const DataConfig& config, const Split& split,
               int64_t max_batch);

  // The device memory ResidentData takes for these data.
  static size_t bytes(const Dataset& data, const Split& split, int64_t max_batch);
  // Whether `choice` puts these data on the backend's device (auto: a GPU with twice the room).
  static bool chosen(OnDevice choice, Backend& backend, const Dataset& data, const Split& split,
                     int64_t max_batch);

  // The training order of the coming epoch (indices into the dataset).
  void set_train_order(const std::vector<int64_t>& order);
  // Batch [first, first + count) of the training order (augmented as data.augment says, with the
  // epoch's seed) or of the validation list (not augmented): images [count, 3, S, S], labels.
  void load(bool training, int64_t first, int64_t count, uint64_t epoch_seed, Tensor* images,
            Tensor* labels);

 private:
  void upload_images(const Dataset& data);
  void upload_order(const std::vector<int64_t>& order, const Tensor& device, int64_t* count);

  Backend& backend_;
  AugmentParams augment_;
  Normalization norm_;
  std::unique_ptr<Pool> pool_;
  Tensor images_, labels_, train_order_, val_order_;  // the dataset and the two lists
  Tensor transforms_, batch_labels_, batch_images_;   // one batch, laid out for the largest
  int64_t train_count_ = 0, val_count_ = 0;           // the lists' lengths
};

}  // namespace scenecam
