// Synthetic datasets, stratified splits, batch preparation and the decoded-image cache.
#include "scenecam/dataset.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "scenecam/random.hpp"

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

namespace {

// Where output pixel (x, y) of one sample reads from: an affine map of the source image plus
// whether to mirror. Pixels mapped outside the source are black (zero padding).
struct SampleTransform {
  double x0 = 0, y0 = 0;  // source position of the output's top-left corner (pixel edges)
  double sx = 1, sy = 1;  // source pixels per output pixel
  bool flip = false;
  bool bilinear = false;  // resized crops interpolate; pad crops and identity copy pixels
};

SampleTransform draw_transform(const AugmentConfig& a, int size, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  SampleTransform t;
  if (a.crop == "pad") {
    std::uniform_int_distribution<int> offset(0, 2 * a.padding);
    t.x0 = offset(rng) - a.padding;
    t.y0 = offset(rng) - a.padding;
  } else if (a.crop == "resized") {
    // torchvision's RandomResizedCrop: an area share and a log-uniform aspect ratio, ten tries,
    // then the whole image.
    const double area = double(size) * size;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * (a.scale_min + (a.scale_max - a.scale_min) * unit(rng));
      const double ratio =
          std::exp(std::log(3.0 / 4) + (std::log(4.0 / 3) - std::log(3.0 / 4)) * unit(rng));
      const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
      const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
      if (w <= 0 || h <= 0 || w > size || h > size) continue;
      t.x0 = std::uniform_int_distribution<int>(0, size - w)(rng);
      t.y0 = std::uniform_int_distribution<int>(0, size - h)(rng);
      t.sx = double(w) / size;
      t.sy = double(h) / size;
      t.bilinear = true;
      break;
    }
  }
  t.flip = a.flip && unit(rng) < 0.5;
  return t;
}

void render_sample(const ImageU8& img, const SampleTransform& t, const DataConfig& cfg,
                   float* out) {
  const int S = img.width;
  const int64_t plane = int64_t(S) * S;
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * cfg.std[c]);
    shift[c] = cfg.mean[c] / cfg.std[c];
  }
  auto pixel = [&](int x, int y, int c) -> float {
    if (x < 0 || y < 0 || x >= S || y >= S) return 0.0f;
    return img.rgb[(int64_t(y) * S + x) * 3 + c];
  };
  for (int y = 0; y < S; ++y) {
    for (int x = 0; x < S; ++x) {
      const int xo = t.flip ? S - 1 - x : x;
      for (int c = 0; c < 3; ++c) {
        float v;
        if (t.bilinear) {
          // Half-pixel centres, borders clamped to the crop.
          const double fx = std::clamp(t.x0 + (x + 0.5) * t.sx - 0.5, t.x0, t.x0 + t.sx * S - 1);
          const double fy = std::clamp(t.y0 + (y + 0.5) * t.sy - 0.5, t.y0, t.y0 + t.sy * S - 1);
          const int ix = static_cast<int>(std::floor(fx)), iy = static_cast<int>(std::floor(fy));
          const double ax = fx - ix, ay = fy - iy;
          const int ix1 = std::min(ix + 1, S - 1), iy1 = std::min(iy + 1, S - 1);
          v = static_cast<float>((1 - ay) * ((1 - ax) * pixel(ix, iy, c) + ax * pixel(ix1, iy, c)) +
                                 ay * ((1 - ax) * pixel(ix, iy1, c) + ax * pixel(ix1, iy1, c)));
        } else {
          v = pixel(static_cast<int>(t.x0) + x, static_cast<int>(t.y0) + y, c);
        }
        out[c * plane + int64_t(y) * S + xo] = v * scale[c] - shift[c];
      }
    }
  }
}

}  // namespace

void prepare_batch(const Dataset& data, const int64_t* indices, int64_t count,
                   const DataConfig& config, bool augment, uint64_t seed, int64_t epoch,
                   const Tensor& out) {
  const int S = data.image_size;
  SC_CHECK(
      out.device().is_cpu() && out.dtype() == DType::f32 && out.shape() == (Shape{count, 3, S, S}),
      "prepare_batch: output ", out.str(), " is not a host f32 [", count, ", 3, ", S, ", ", S,
      "] tensor");
  float* base = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = indices[k];
    SampleTransform t;
    if (augment) {
      std::mt19937_64 rng(
          derive_seed(seed, {0xa0u, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i)}));
      t = draw_transform(config.augment, S, rng);
    }
    render_sample(data.images[i], t, config, base + k * 3 * int64_t(S) * S);
  }
}

// ---------------------------------------------------------------- cache file

namespace {

constexpr char kCacheMagic[8] = {'S', 'C', 'N', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kCacheVersion = 1;

class Writer {
 public:
  explicit Writer(std::ofstream& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out_.write(s.data(), static_cast<std::streamsize>(s.size()));
  }

 private:
  std::ofstream& out_;
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
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    SC_CHECK(out.good(), tmp, ": cannot create the image cache");
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
      out.write(reinterpret_cast<const char*>(img.rgb.data()),
                static_cast<std::streamsize>(img.rgb.size()));
    out.close();
    if (!out.good()) {
      std::remove(tmp.c_str());
      fail(path, ": could not write the image cache (disk full?)");
    }
  }
  SC_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": could not move ", tmp,
           " into place");
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
