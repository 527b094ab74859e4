// BatchInput: host staging, transfer and on-device augmentation of batches.
#include "train/batch.hpp"

namespace scenecam {

BatchInput::BatchInput(Backend& backend, int64_t B, int S, int64_t K, const DataConfig& data)
    : backend_(backend), data_(data) {
  SC_CHECK(data.mean.size() == 3 && data.std.size() == 3, "data.mean and data.std need 3 values");
  for (int c = 0; c < 3; ++c) {
    norm_.mean[c] = data.mean[c];
    norm_.std[c] = data.std[c];
  }
  const TensorSize pixels{{B, S, S, 3}, DType::u8}, transforms{{B, kTransformFields}, DType::f32},
      labels{{B}, DType::i32};
  staging_ = backend.make_staging_pool(
      "batch staging", pool_capacity({pixels, transforms, labels, pixels, transforms, labels,
                                      {{B, K}, DType::f32}}));
  device_ = backend.make_pool(
      "batch", pool_capacity({pixels, transforms, labels, {{B, 3, S, S}, DType::f32}}), false);
  for (Staging& slot : slots_) {
    slot.pixels = staging_->take(pixels.shape, DType::u8, "batch pixels");
    slot.transforms = staging_->take(transforms.shape, DType::f32, "batch transforms");
    slot.labels = staging_->take(labels.shape, DType::i32, "batch labels");
  }
  host_logits_ = staging_->take(Shape{B, K}, DType::f32, "logits");
  pixels_ = device_->take(pixels.shape, DType::u8, "batch pixels");
  transforms_ = device_->take(transforms.shape, DType::f32, "batch transforms");
  labels_ = device_->take(labels.shape, DType::i32, "batch labels");
  images_ = device_->take(Shape{B, 3, S, S}, DType::f32, "batch images");
}

Tensor BatchInput::front(const Tensor& t, int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  return Tensor(t.raw(), s, t.dtype(), t.device());
}

void BatchInput::load(const Dataset& data, const int64_t* indices, int64_t count, bool augment,
                      uint64_t seed, int64_t epoch, Tensor* images, Tensor* labels) {
  SC_CHECK(count >= 1 && count <= images_.dim(0), "batch of ", count, " samples exceeds the ",
           images_.dim(0), " the buffers were laid out for");
  Staging& slot = slots_[next_slot_];
  next_slot_ = 1 - next_slot_;
  backend_.wait_uploads(slot.uploaded);  // the copies from this slot two batches ago
  stage_batch(data, indices, count, data_.augment, augment, seed, epoch, slot.pixels.data<uint8_t>(),
              slot.transforms.data<float>());
  int32_t* host_labels = slot.labels.data<int32_t>();
  for (int64_t k = 0; k < count; ++k)
    host_labels[k] = data.labels[indices[k]];
  backend_.copy_async(front(slot.pixels, count), front(pixels_, count));
  backend_.copy_async(front(slot.transforms, count), front(transforms_, count));
  backend_.copy_async(front(slot.labels, count), front(labels_, count));
  slot.uploaded = backend_.upload_mark();
  *images = front(images_, count);
  *labels = front(labels_, count);
  backend_.augment_batch(front(pixels_, count), front(transforms_, count), norm_, *images);
}

const float* BatchInput::download_logits(const Tensor& logits) {
  backend_.copy(logits, front(host_logits_, logits.dim(0)));
  return host_logits_.data<float>();
}

}  // namespace scenecam
