// Splits, batch preparation (augmentation, normalisation), image folders and the image cache.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "io/image_bytes.hpp"
#include "scenecam/backend.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;

TEST(Split, StratifiedDisjointCompleteAndSeeded) {
  std::vector<int32_t> labels;
  for (int i = 0; i < 103; ++i)
    labels.push_back(i % 3 == 0 ? 0 : (i % 3 == 1 ? 1 : 2));
  labels.push_back(2);  // class sizes 35, 34, 35
  const Split a = stratified_split(labels, 3, 0.2, 7);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  for (int64_t v : a.val)
    EXPECT_TRUE(all.insert(v).second) << "index " << v << " in both";
  EXPECT_EQ(all.size(), labels.size());
  std::vector<int> per_class(3, 0);
  for (int64_t v : a.val)
    ++per_class[labels[v]];
  EXPECT_EQ(per_class, (std::vector<int>{7, 7, 7}));  // round(0.2 * 35) = 7, round(6.8) = 7
  const Split b = stratified_split(labels, 3, 0.2, 7), c = stratified_split(labels, 3, 0.2, 8);
  EXPECT_EQ(a.val, b.val);
  EXPECT_NE(a.val, c.val);
}

TEST(Split, TinyClassesKeepOneOnEachSide) {
  const Split s = stratified_split({0, 0, 1, 1, 1}, 2, 0.01, 1);
  EXPECT_EQ(s.val.size(), 2u);
  EXPECT_EQ(s.train.size(), 3u);
}

class Batches : public ::testing::Test {
 protected:
  Dataset data = make_synthetic_dataset(24, 3, 0, 6);
  DataConfig cfg;
  std::vector<int64_t> idx{0, 1, 2, 3, 4, 5};
  test::F out{Shape{6, 3, 24, 24}};
  std::unique_ptr<Backend> cpu = make_cpu_backend(2);

  void SetUp() override { cfg.image_size = 24; }
  // stage_batch on the host, then the backend's augment_batch, as the trainer does.
  void render(const std::vector<int64_t>& indices, bool augment, uint64_t seed, int64_t epoch) {
    test::Buffer<uint8_t> pixels(Shape{6, 24, 24, 3});
    test::F transforms(Shape{6, kTransformFields});
    stage_batch(data, indices.data(), 6, cfg.augment, augment, seed, epoch, pixels.values().data(),
                transforms.values().data());
    test::poison(out);
    cpu->augment_batch(pixels.t(), transforms.t(), Normalization{}, out.t());
  }
};

TEST_F(Batches, WithoutAugmentationItIsPlainNormalisation) {
  render(idx, false, 1, 0);
  const Normalization norm;
  for (int k = 0; k < 6; ++k)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 24 * 24; ++i) {
        const float expect = (data.images[k].rgb[i * 3 + c] / 255.0f - norm.mean[c]) / norm.std[c];
        ASSERT_NEAR(out[(k * 3 + c) * 576 + i], expect, 1e-5) << k << " " << c << " " << i;
      }
}

TEST_F(Batches, FlipOnlyMirrorsSomeSamples) {
  cfg.augment.crop = Crop::none;
  cfg.augment.flip = true;
  render(idx, false, 1, 0);
  const std::vector<float> plain = out.values();
  int mirrored = 0, same = 0;
  for (int epoch = 0; epoch < 4; ++epoch) {
    render(idx, true, 1, epoch);
    for (int k = 0; k < 6; ++k) {
      bool is_same = true, is_mirror = true;
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 24; ++y)
          for (int x = 0; x < 24; ++x) {
            const size_t base = ((k * 3 + c) * 24 + y) * 24;
            is_same &= out[base + x] == plain[base + x];
            is_mirror &= out[base + x] == plain[base + 23 - x];
          }
      ASSERT_TRUE(is_same || is_mirror);
      same += is_same;
      mirrored += is_mirror;
    }
  }
  EXPECT_GT(mirrored, 0);
  EXPECT_GT(same, 0);
}

TEST_F(Batches, AugmentationIsAFunctionOfSeedEpochAndSample) {
  cfg.augment.crop = Crop::resized;
  render(idx, true, 1, 5);
  const std::vector<float> first = out.values();
  // The same samples in another order, same epoch: each sample is transformed the same way.
  std::vector<int64_t> reversed(idx.rbegin(), idx.rend());
  render(reversed, true, 1, 5);
  const size_t per = 3 * 24 * 24;
  for (int k = 0; k < 6; ++k)
    for (size_t i = 0; i < per; ++i)
      ASSERT_EQ(out[(5 - k) * per + i], first[k * per + i]);
  render(idx, true, 1, 6);
  EXPECT_NE(out.values(), first);
}

TEST_F(Batches, PaddedCropFillsBlack) {
  cfg.augment.crop = Crop::pad;
  cfg.augment.padding = 8;
  cfg.augment.flip = false;
  int black = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    render(idx, true, 2, epoch);
    const float zero_red = (0.0f - cfg.mean[0]) / cfg.std[0];
    for (size_t i = 0; i < 24 * 24; ++i)
      black += std::abs(out[i] - zero_red) < 1e-6f;
  }
  EXPECT_GT(black, 0);  // some sample moved by up to 8 pixels shows the black padding
}

// Backend::gather_batch draws on the device what stage_batch draws on the host: the same
// transforms, labels and rendered images for a shuffled batch, for every kind of crop.
TEST_F(Batches, GatheredBatchesEqualStagedOnes) {
  const std::vector<int64_t> order{4, 0, 5, 5, 2, 1};
  test::Buffer<uint8_t> all(Shape{6, 24, 24, 3});
  for (int64_t i = 0; i < 6; ++i)
    std::copy(data.images[i].rgb.begin(), data.images[i].rgb.end(), all.values().begin() + i * 1728);
  test::Buffer<int32_t> labels(Shape{6}, std::vector<int32_t>(data.labels.begin(), data.labels.end()));
  test::Buffer<int32_t> order32(Shape{6}, std::vector<int32_t>(order.begin(), order.end()));
  for (Crop crop : {Crop::none, Crop::pad, Crop::resized}) {
    cfg.augment.crop = crop;
    render(order, true, 9, 3);
    const std::vector<float> staged = out.values();
    test::F transforms(Shape{6, kTransformFields}), gathered(Shape{6, 3, 24, 24});
    test::Buffer<int32_t> batch_labels(Shape{6});
    test::poison(gathered);
    cpu->gather_batch(all.t(), labels.t(), order32.t(), augment_params(cfg.augment),
                      augment_epoch_seed(9, 3), Normalization{}, transforms.t(), batch_labels.t(),
                      gathered.t());
    EXPECT_EQ(gathered.values(), staged) << name_of(crop);
    for (int k = 0; k < 6; ++k)
      EXPECT_EQ(batch_labels[k], data.labels[order[k]]);
  }
  order32[2] = 6;
  test::expect_error([&] {
    test::F transforms(Shape{6, kTransformFields}), gathered(Shape{6, 3, 24, 24});
    test::Buffer<int32_t> batch_labels(Shape{6});
    cpu->gather_batch(all.t(), labels.t(), order32.t(), AugmentParams{}, 0, Normalization{},
                      transforms.t(), batch_labels.t(), gathered.t());
  }, {"gather_batch", "order[2] is 6", "outside the 6 images"});
}

// An image folder in a temporary directory, with odd-sized, corrupt and empty files.
class ImageFolder : public ::testing::Test {
 protected:
  fs::path root;
  void SetUp() override {
    if (!image_files_supported()) GTEST_SKIP() << "this build has no OpenCV (image files off)";
    root = fs::temp_directory_path() / ("scenecam_folder_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "forest");
    fs::create_directories(root / "sea");
    fs::create_directories(root / "empty_class");
    for (int i = 0; i < 4; ++i) {
      write(root / "forest" / ("f" + std::to_string(i) + ".png"), 37 + i, 23, 40);
      write(root / "sea" / ("s" + std::to_string(i) + ".png"), 16, 50 - i, 200);
    }
    std::ofstream(root / "sea" / "broken.jpg") << "this is not a jpeg";
    std::ofstream(root / "forest" / "zero.png");
    std::ofstream(root / "forest" / "notes.txt") << "ignored: not an image name";
  }
  void TearDown() override {
    if (!root.empty()) fs::remove_all(root);
  }
  static void write(const fs::path& p, int w, int h, uint8_t value) {
    ImageU8 img;
    img.width = w;
    img.height = h;
    img.rgb.assign(size_t(w) * h * 3, value);
    write_png(p.string(), img);
  }
};

TEST_F(ImageFolder, DecodesResizesAndSkipsBadFiles) {
  const Dataset d = load_image_folder(root.string(), 20, 2, "");
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"forest", "sea"}));
  EXPECT_EQ(d.images.size(), 8u);
  EXPECT_EQ(d.skipped, 2);
  ASSERT_EQ(d.skipped_examples.size(), 2u);
  const std::string both = d.skipped_examples[0] + d.skipped_examples[1];
  EXPECT_NE(both.find("zero.png: empty file"), std::string::npos) << both;
  EXPECT_NE(both.find("broken.jpg: not a decodable image"), std::string::npos) << both;
  for (size_t i = 0; i < d.images.size(); ++i) {
    EXPECT_EQ(d.images[i].width, 20);
    EXPECT_EQ(d.images[i].height, 20);
    EXPECT_EQ(d.images[i].rgb[0], d.labels[i] == 0 ? 40 : 200) << d.files[i];
  }
}

std::vector<uint8_t> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(ImageBytes, EveryTruncationOfARealJpegOrPngIsCaught) {
  for (const char* name : {"gradient.jpg", "progressive.jpg", "gradient.png"}) {
    const auto bytes = file_bytes(fs::path(SCENECAM_SOURCE_DIR) / "tests/data/images" / name);
    ASSERT_GT(bytes.size(), 100u) << name;
    EXPECT_EQ(image_truncation_problem(bytes.data(), bytes.size()), "") << name;
    for (size_t n = 8; n < bytes.size(); ++n)  // shorter: no format is recognisable at all
      EXPECT_NE(image_truncation_problem(bytes.data(), n), "") << name << " cut to " << n;
  }
}

TEST(ImageBytes, HeadersGiveTheSizeBeforeDecoding) {
  for (const char* name : {"gradient.jpg", "progressive.jpg", "gradient.png", "gradient.bmp"}) {
    const auto bytes = file_bytes(fs::path(SCENECAM_SOURCE_DIR) / "tests/data/images" / name);
    int64_t w = 0, h = 0;
    ASSERT_TRUE(image_header_size(bytes.data(), bytes.size(), &w, &h)) << name;
    EXPECT_EQ(w, 24) << name;
    EXPECT_EQ(h, 16) << name;
  }
  // A PNG whose header claims 60000 x 60000 pixels is refused before the decoder allocates.
  auto png = file_bytes(fs::path(SCENECAM_SOURCE_DIR) / "tests/data/images/gradient.png");
  for (int at : {16, 20}) {
    png[at] = 0, png[at + 1] = 0, png[at + 2] = 0xea, png[at + 3] = 0x60;
  }
  if (!image_files_supported()) return;
  ImageU8 img;
  std::string why;
  EXPECT_FALSE(decode_image(png, 16, &img, &why));
  EXPECT_NE(why.find("declares 60000x60000 pixels, more than the limit"), std::string::npos) << why;
  // Found by fuzz_image: sizes whose product overflows 64 bits are refused, not wrapped.
  for (int at : {16, 20}) {
    png[at] = 0xff, png[at + 1] = 0xff, png[at + 2] = 0xff, png[at + 3] = 0xf0;
  }
  EXPECT_FALSE(decode_image(png, 16, &img, &why));
  EXPECT_NE(why.find("declares 4294967280x4294967280 pixels"), std::string::npos) << why;
}

// data.val_root: every image of root trains, every image of val_root validates; other classes
// are named.
TEST_F(ImageFolder, AValidationFolderReplacesTheSplit) {
  const fs::path val = root.string() + "_val";
  fs::remove_all(val);
  for (const char* c : {"forest", "sea"}) {
    fs::create_directories(val / c);
    write(val / c / "v.png", 20, 20, 90);
  }
  RunConfig c;
  c.data.source = "folder";
  c.data.root = root.string();
  c.data.val_root = val.string();
  c.data.image_size = 20;
  c.runtime.threads = 2;
  Split split;
  const Dataset d = load_training_data(c, &split);
  EXPECT_EQ(split.train.size(), 8u);
  ASSERT_EQ(split.val.size(), 2u);
  EXPECT_EQ(d.images.size(), 10u);
  for (int64_t i : split.val) {
    EXPECT_EQ(d.images[i].rgb[0], 90);
    EXPECT_NE(d.files[i].find("_val"), std::string::npos);
  }
  EXPECT_EQ(d.labels[split.val[0]], 0);
  EXPECT_EQ(d.labels[split.val[1]], 1);
  fs::create_directories(val / "glacier");
  write(val / "glacier" / "g.png", 20, 20, 1);
  test::expect_error([&] { load_training_data(c, &split); },
                     {"_val: its classes [forest, glacier, sea] differ from ",
                      "'s [forest, sea]; data.val_root must hold the same class folders"});
  fs::remove_all(val);
}

TEST_F(ImageFolder, LoopingDanglingTruncatedAndEmptyEntriesAreNamed) {
  fs::create_symlink("b.jpg", root / "sea" / "a.jpg");
  fs::create_symlink("a.jpg", root / "sea" / "b.jpg");
  fs::create_symlink("nowhere.jpg", root / "forest" / "gone.jpg");
  auto jpeg = file_bytes(fs::path(SCENECAM_SOURCE_DIR) / "tests/data/images/gradient.jpg");
  jpeg.resize(jpeg.size() - 100);
  std::ofstream(root / "forest" / "cut.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), std::streamsize(jpeg.size()));

  const Dataset d = load_image_folder(root.string(), 20, 2, "");
  EXPECT_EQ(d.images.size(), 8u);
  EXPECT_EQ(d.skipped, 6);  // broken, zero, the two links of the loop, the dangling one, the cut
  EXPECT_EQ(d.empty_folders, (std::vector<std::string>{"empty_class"}));
  const std::map<std::string, std::string> reasons = {
      {"sea/a.jpg", "Too many levels of symbolic links"},
      {"forest/gone.jpg", "No such file or directory"},
      {"forest/cut.jpg", "truncated JPEG"}};
  for (const auto& [file, reason] : reasons) {
    ImageU8 img;
    std::string why;
    EXPECT_FALSE(read_image_file((root / file).string(), 20, &img, &why)) << file;
    EXPECT_NE(why.find(reason), std::string::npos) << file << ": " << why;
  }
  // predict and explain's inputs: the unreadable entries are listed, to be named when read.
  const auto inputs = expand_image_inputs({root.string()});
  for (const char* file : {"sea/a.jpg", "sea/b.jpg", "forest/gone.jpg", "forest/cut.jpg"})
    EXPECT_NE(std::find(inputs.begin(), inputs.end(), (root / file).string()), inputs.end())
        << file;
}

TEST_F(ImageFolder, CacheIsUsedWhileTheListingMatches) {
  const std::string cache = (root / "images.cache").string();
  const Dataset a = load_image_folder(root.string(), 20, 2, cache);
  ASSERT_TRUE(fs::exists(cache));
  Dataset b;
  const FolderListing listing = list_image_folder(root.string());
  ASSERT_TRUE(load_dataset_cache(cache, root.string(), 20, listing.files, &b));
  EXPECT_EQ(b.files, a.files);
  EXPECT_EQ(b.skipped, 2);
  EXPECT_EQ(b.images[3].rgb, a.images[3].rgb);
  EXPECT_FALSE(load_dataset_cache(cache, root.string(), 24, listing.files, &b));  // other size
  write(root / "sea" / "new.png", 10, 10, 9);
  EXPECT_FALSE(
      load_dataset_cache(cache, root.string(), 20, list_image_folder(root.string()).files, &b));
  std::ofstream(cache, std::ios::trunc) << "garbage";
  EXPECT_FALSE(load_dataset_cache(cache, root.string(), 20, listing.files, &b));
}

TEST_F(ImageFolder, BadFoldersAreOneLineErrors) {
  test::expect_error([&] { list_image_folder((root / "missing").string()); },
                     {"missing", "not a folder"});
  fs::remove_all(root / "sea");
  test::expect_error([&] { list_image_folder(root.string()); }, {"only one class ('forest')"});
  fs::remove_all(root / "forest");
  test::expect_error([&] { list_image_folder(root.string()); }, {"no images found"});
}

}  // namespace
}  // namespace scenecam
