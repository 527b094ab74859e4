// A batch's trip from a Dataset to the backend, shared by training, evaluation and prediction:
// the samples are staged on the host (page-locked memory on a GPU) as uint8 pixels plus one
// transform each, copied without waiting, then cropped, flipped and normalised on the backend's
// device by augment_batch. Two staging slots take turns, so the host stages batch k + 1 while
// batch k's copies and step run; before reusing a slot it waits for the copies of batch k - 1
// (and what the stream ran before them). Every buffer is
// laid out once for the largest batch; a shorter batch uses the front of each.
#pragma once

#include <cstdint>
#include <memory>

#include "scenecam/backend.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

class BatchInput {
 public:
  BatchInput(Backend& backend, int64_t max_batch, int image_size, int64_t classes,
             const DataConfig& data);

  // Stages samples `indices` of `data` (augmented when `augment`, from (seed, epoch, sample)) and
  // returns their device images [count, 3, S, S] and labels [count].
  void load(const Dataset& data, const int64_t* indices, int64_t count, bool augment, uint64_t seed,
            int64_t epoch, Tensor* images, Tensor* labels);
  // Copies logits [count, K] to the host; the pointer stays valid until the next call.
  const float* download_logits(const Tensor& logits);

 private:
  static Tensor front(const Tensor& t, int64_t count);

  Backend& backend_;
  const DataConfig& data_;
  Normalization norm_;
  struct Staging {  // one slot of host memory and the mark of the copies that read it
    Tensor pixels, transforms, labels;
    uint64_t uploaded = 0;
  };
  std::unique_ptr<Pool> staging_, device_;
  Staging slots_[2];
  int next_slot_ = 0;
  Tensor host_logits_;
  Tensor pixels_, transforms_, labels_, images_;
};

}  // namespace scenecam
