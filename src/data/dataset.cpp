// Synthetic datasets, stratified splits, batch preparation and the decoded-image cache.
#include "scenecam/dataset.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>

#include "internal/files.hpp"
#include "internal/random.hpp"

namespace scenecam {

Dataset make_synthetic_dataset(int size, uint64_t seed, int64_t first, int count) {
  const SyntheticScenes scenes(size, seed);
  Dataset d;
  d.image_size = size;
  for (int c = 0; c < SyntheticScenes::kClasses; ++c)
    d.class_names.push_back(SyntheticScenes::class_name(c));
  d.images.resize(count);
  d.labels.resize(count);
  d.boxes.resize(count);
  d.files.assign(count, "");
#pragma omp parallel for schedule(dynamic, 16)
  for (int i = 0; i < count; ++i) {
    int label = 0;
    d.images[i] = scenes.draw(first + i, &label, &d.boxes[i]);
    d.labels[i] = label;
  }
  return d;
}

std::vector<int64_t> split_indices(const Split& split, int64_t count, const std::string& name,
                                   bool allow_all) {
  if (name == "val") return split.val;
  if (name == "train") return split.train;
  SC_CHECK(allow_all && name == "all", "--split must be val",
           allow_all ? ", train or all" : " or train", ", not '", name, "'");
  std::vector<int64_t> all(count);
  std::iota(all.begin(), all.end(), 0);
  return all;
}

Split stratified_split(const std::vector<int32_t>& labels, int classes, double val_fraction,
                       uint64_t seed) {
  std::vector<std::vector<int64_t>> by_class(classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    SC_CHECK(labels[i] >= 0 && labels[i] < classes, "split: label ", labels[i], " of image ", i,
             " is outside [0, ", classes, ")");
    by_class[labels[i]].push_back(static_cast<int64_t>(i));
  }
  Split s;
  for (int c = 0; c < classes; ++c) {
    std::vector<int64_t>& members = by_class[c];
    std::mt19937_64 rng(derive_seed(seed, {0x5u, static_cast<uint64_t>(c)}));
    std::shuffle(members.begin(), members.end(), rng);
    const int64_t n = static_cast<int64_t>(members.size());
    int64_t n_val = std::llround(val_fraction * n);
    if (n >= 2) n_val = std::clamp<int64_t>(n_val, 1, n - 1);
    s.val.insert(s.val.end(), members.begin(), members.begin() + n_val);
    s.train.insert(s.train.end(), members.begin() + n_val, members.end());
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.val.begin(), s.val.end());
  return s;
}

AugmentParams augment_params(const AugmentConfig& a) {
  AugmentParams p;
  p.crop = a.crop == Crop::pad       ? AugmentParams::pad
           : a.crop == Crop::resized ? AugmentParams::resized
                                     : AugmentParams::none;
  p.padding = a.padding;
  p.scale_min = a.scale_min;
  p.scale_max = a.scale_max;
  p.flip = a.flip ? 1 : 0;
  return p;
}

uint64_t augment_epoch_seed(uint64_t seed, int64_t epoch) {
  return derive_seed(seed, {0xa0u, static_cast<uint64_t>(epoch)});
}

void stage_batch(const Dataset& data, const int64_t* indices, int64_t count,
                 const AugmentConfig& augment, bool augmenting, uint64_t seed, int64_t epoch,
                 uint8_t* pixels, float* transforms) {
  static_assert(sizeof(SampleTransform) == kTransformFields * sizeof(float));
  const size_t image_bytes = size_t(data.image_size) * data.image_size * 3;
  const AugmentParams params = augmenting ? augment_params(augment) : AugmentParams{};
  const uint64_t epoch_seed = augment_epoch_seed(seed, epoch);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = indices[k];
    std::memcpy(pixels + k * image_bytes, data.images[i].rgb.data(), image_bytes);
    const SampleTransform t =
        draw_sample_transform(params, data.image_size, sample_seed(epoch_seed, i));
    std::memcpy(transforms + k * kTransformFields, static_cast<const void*>(&t), sizeof t);
  }
}

// ---------------------------------------------------------------- cache file

namespace {

constexpr char kCacheMagic[8] = {'S', 'C', 'N', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kCacheVersion = 1;

class Writer {
 public:
  explicit Writer(AtomicFile& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    out_.write(&v, sizeof v);
  }
  void put(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out_.write(s);
  }

 private:
  AtomicFile& out_;
};

class Reader {
 public:
  explicit Reader(std::ifstream& in) : in_(in) {}
  template <typename T>
  T get() {
    T v{};
    in_.read(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  }
  std::string str() {
    const uint32_t n = get<uint32_t>();
    if (!in_ || n > (1u << 20)) return {};
    std::string s(n, '\0');
    in_.read(s.data(), n);
    return s;
  }
  bool ok() const { return static_cast<bool>(in_); }

 private:
  std::ifstream& in_;
};

}  // namespace

void save_dataset_cache(const std::string& path, const std::string& root, const Dataset& d) {
  AtomicFile out(path);
  Writer w(out);
  out.write(kCacheMagic, sizeof kCacheMagic);
  w.put(kCacheVersion);
  w.put(static_cast<uint32_t>(d.image_size));
  w.put(root);
  w.put(static_cast<uint32_t>(d.class_names.size()));
  for (const std::string& c : d.class_names)
    w.put(c);
  w.put(static_cast<uint64_t>(d.files.size()));
  for (size_t i = 0; i < d.files.size(); ++i) {
    w.put(d.files[i]);
    w.put(d.labels[i]);
  }
  w.put(static_cast<uint64_t>(d.skipped));
  w.put(static_cast<uint32_t>(d.skipped_examples.size()));
  for (const std::string& s : d.skipped_examples)
    w.put(s);
  for (const ImageU8& img : d.images)
    out.write(img.rgb.data(), img.rgb.size());
  out.commit();
}

bool load_dataset_cache(const std::string& path, const std::string& root, int size,
                        const std::vector<std::string>& listed, Dataset* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return false;
  Reader r(in);
  char magic[sizeof kCacheMagic];
  in.read(magic, sizeof magic);
  if (!in || std::memcmp(magic, kCacheMagic, sizeof magic) != 0) return false;
  if (r.get<uint32_t>() != kCacheVersion || r.get<uint32_t>() != uint32_t(size) || r.str() != root)
    return false;
  Dataset d;
  d.image_size = size;
  const uint32_t classes = r.get<uint32_t>();
  if (!r.ok() || classes > 100000) return false;
  for (uint32_t c = 0; c < classes; ++c)
    d.class_names.push_back(r.str());
  const uint64_t n = r.get<uint64_t>();
  if (!r.ok() || n > (uint64_t(1) << 32)) return false;
  // The cache holds the decoded images only; the listing it was made from must be today's.
  std::vector<std::string> decoded_files;
  std::vector<int32_t> labels;
  for (uint64_t i = 0; i < n; ++i) {
    decoded_files.push_back(r.str());
    labels.push_back(r.get<int32_t>());
  }
  d.skipped = static_cast<int64_t>(r.get<uint64_t>());
  const uint32_t examples = r.get<uint32_t>();
  if (!r.ok() || examples > 64) return false;
  for (uint32_t i = 0; i < examples; ++i)
    d.skipped_examples.push_back(r.str());
  if (!r.ok() || decoded_files.size() + d.skipped != listed.size()) return false;
  std::vector<std::string> sorted = listed;
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& f : decoded_files)
    if (!std::binary_search(sorted.begin(), sorted.end(), f)) return false;
  d.files = std::move(decoded_files);
  d.labels = std::move(labels);
  d.images.resize(n);
  for (ImageU8& img : d.images) {
    img.height = img.width = size;
    img.rgb.resize(size_t(size) * size * 3);
    in.read(reinterpret_cast<char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
  }
  if (!in) return false;
  *out = std::move(d);
  return true;
}

}  // namespace scenecam
