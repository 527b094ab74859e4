// ResidentData: a dataset on the device and batches made there.
#include "train/resident.hpp"

#include <algorithm>
#include <cstring>

namespace scenecam {

namespace {

// Rows [first, first + count) of t.
Tensor rows(const Tensor& t, int64_t first, int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  const size_t row = t.nbytes() / size_t(t.dim(0));
  return Tensor(static_cast<char*>(t.raw()) + first * row, s, t.dtype(), t.device());
}

std::vector<TensorSize> sizes(const Dataset& data, const Split& split, int64_t B) {
  const int64_t D = static_cast<int64_t>(data.images.size()), S = data.image_size;
  return {{{D, S, S, 3}, DType::u8},
          {{D}, DType::i32},
          {{std::max<int64_t>(1, static_cast<int64_t>(split.train.size()))}, DType::i32},
          {{std::max<int64_t>(1, static_cast<int64_t>(split.val.size()))}, DType::i32},
          {{B, kTransformFields}, DType::f32},
          {{B}, DType::i32},
          {{B, 3, S, S}, DType::f32}};
}

size_t capacity(const std::vector<TensorSize>& all) {
  size_t bytes = 0;
  for (const TensorSize& t : all)
    bytes += pool_capacity({t});
  return bytes;
}

}  // namespace

size_t ResidentData::bytes(const Dataset& data, const Split& split, int64_t max_batch) {
  return capacity(sizes(data, split, max_batch));
}

bool ResidentData::chosen(OnDevice choice, Backend& backend, const Dataset& data,
                          const Split& split, int64_t max_batch) {
  if (choice != OnDevice::automatic) return choice == OnDevice::yes;
  const size_t free = backend.device_memory_free();
  return free > 0 && 2 * bytes(data, split, max_batch) <= free;
}

ResidentData::ResidentData(Backend& backend, const Dataset& data, const DataConfig& config,
                           const Split& split, int64_t B)
    : backend_(backend), augment_(augment_params(config.augment)) {
  SC_CHECK(data.images.size() < size_t(INT32_MAX), "data.on_device: ", data.images.size(),
           " images are more than a 32-bit index reaches");
  for (int c = 0; c < 3; ++c) {
    norm_.mean[c] = config.mean.at(c);
    norm_.std[c] = config.std.at(c);
  }
  const std::vector<TensorSize> all = sizes(data, split, B);
  const size_t need = capacity(all), free = backend.device_memory_free();
  SC_CHECK(free == 0 || need <= free, "data.on_device: the images need ", need / 1000000,
           " MB but ", backend.device().str(), " has ", free / 1000000,
           " MB free; set data.on_device: false to stage each batch from the host");
  pool_ = backend.make_pool("resident data", need, false);
  const char* names[] = {"resident images",  "resident labels",  "training order",
                         "validation order", "batch transforms", "batch labels",
                         "batch images"};
  Tensor* tensors[] = {&images_,     &labels_,       &train_order_, &val_order_,
                       &transforms_, &batch_labels_, &batch_images_};
  for (size_t i = 0; i < all.size(); ++i)
    *tensors[i] = pool_->take(all[i].shape, all[i].dtype, names[i]);
  upload_images(data);
  std::vector<int32_t> labels(data.labels.begin(), data.labels.end());
  backend.copy(Tensor(labels.data(), labels_.shape(), DType::i32, Device::cpu()), labels_);
  upload_order(split.val, val_order_, &val_count_);
}

// Through a staging buffer of about 64 MB, a run of images at a time.
void ResidentData::upload_images(const Dataset& data) {
  const int64_t S = data.image_size, D = images_.dim(0);
  const size_t image_bytes = size_t(S) * S * 3;
  const int64_t chunk = std::clamp<int64_t>(int64_t((64u << 20) / image_bytes), 1, D);
  std::unique_ptr<Pool> staging =
      backend_.make_staging_pool("resident upload", pool_capacity({{{chunk, S, S, 3}, DType::u8}}));
  const Tensor host = staging->take(Shape{chunk, S, S, 3}, DType::u8, "images on their way");
  for (int64_t first = 0; first < D; first += chunk) {
    const int64_t count = std::min(chunk, D - first);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(static_cast<uint8_t*>(host.raw()) + i * image_bytes,
                  data.images[size_t(first + i)].rgb.data(), image_bytes);
    backend_.copy(rows(host, 0, count), rows(images_, first, count));
  }
}

void ResidentData::upload_order(const std::vector<int64_t>& order, const Tensor& device,
                                int64_t* count) {
  SC_CHECK(static_cast<int64_t>(order.size()) <= device.dim(0), "resident data: an order of ",
           order.size(), " samples exceeds the ", device.dim(0), " laid out");
  *count = static_cast<int64_t>(order.size());
  if (order.empty()) return;
  std::vector<int32_t> host(order.begin(), order.end());
  backend_.copy(Tensor(host.data(), Shape{int64_t(host.size())}, DType::i32, Device::cpu()),
                rows(device, 0, int64_t(host.size())));
}

void ResidentData::set_train_order(const std::vector<int64_t>& order) {
  upload_order(order, train_order_, &train_count_);
}

void ResidentData::load(bool training, int64_t first, int64_t count, uint64_t epoch_seed,
                        Tensor* images, Tensor* labels) {
  SC_CHECK(count >= 1 && count <= batch_images_.dim(0), "resident data: a batch of ", count,
           " samples exceeds the ", batch_images_.dim(0), " laid out");
  const int64_t listed = training ? train_count_ : val_count_;
  SC_CHECK(first >= 0 && first + count <= listed, "resident data: samples [", first, ", ",
           first + count, ") of the ", training ? "training order" : "validation list",
           " are past its ", listed);
  const Tensor order = rows(training ? train_order_ : val_order_, first, count);
  *images = rows(batch_images_, 0, count);
  *labels = rows(batch_labels_, 0, count);
  backend_.gather_batch(images_, labels_, order, training ? augment_ : AugmentParams{}, epoch_seed,
                        norm_, rows(transforms_, 0, count), *labels, *images);
}

}  // namespace scenecam
