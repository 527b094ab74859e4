// Datasets held in memory as uint8 images of one size, their split, and batch preparation
// (augmentation + normalisation into float NCHW).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/data.hpp"
#include "scenecam/elementwise.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

struct Dataset {
  std::vector<std::string> class_names;
  std::vector<ImageU8> images;  // all image_size x image_size
  std::vector<int32_t> labels;
  std::vector<std::string> files;  // the source file of each image ("" when drawn)
  std::vector<Box> boxes;          // the object's box (synthetic scenes), else empty
  int image_size = 0;
  bool from_cache = false;  // loaded from a decoded-image cache file instead of decoding
  // Files that could not be decoded: how many, and "path: reason" for the first few.
  int64_t skipped = 0;
  std::vector<std::string> skipped_examples;
  std::vector<std::string> empty_folders;  // class-like folders that held no image
};

// `count` synthetic scenes starting at image index `first`.
Dataset make_synthetic_dataset(int size, uint64_t seed, int64_t first, int count);

// Image indices of the training and validation subsets.
struct Split {
  std::vector<int64_t> train, val;
};

// The images a split name picks: "val", "train", or (with allow_all) "all" of `count` images;
// throws naming the accepted names.
std::vector<int64_t> split_indices(const Split& split, int64_t count, const std::string& name,
                                   bool allow_all);

// Per class, a seeded shuffle of its images, of which round(val_fraction * n) (at least one when
// the class has two or more images) go to validation. Deterministic given (labels, seed).
Split stratified_split(const std::vector<int32_t>& labels, int classes, double val_fraction,
                       uint64_t seed);

// data.augment as the per-sample drawing (draw_sample_transform, elementwise.hpp) takes it, and
// the seed sample i's transform in `epoch` is drawn from: sample_seed(augment_epoch_seed(...), i).
AugmentParams augment_params(const AugmentConfig& a);
uint64_t augment_epoch_seed(uint64_t seed, int64_t epoch);

// The host side of a batch: the samples' uint8 pixels, copied into pixels [count, S, S, 3], and
// their augmentation transforms, written to transforms [count, kTransformFields] (identities when
// !augmenting). A sample's transform is drawn from a generator derived from (seed, epoch, index),
// so the same sample in the same epoch is always transformed the same way, in any batch order,
// and on any backend (Backend::gather_batch draws the same on the device).
// Backend::augment_batch then renders and normalises the batch on the device.
void stage_batch(const Dataset& data, const int64_t* indices, int64_t count,
                 const AugmentConfig& augment, bool augmenting, uint64_t seed, int64_t epoch,
                 uint8_t* pixels, float* transforms);

// The cache file of a decoded image folder: saved after decoding, loaded instead of decoding when
// it matches (same root, image size and file list). Written via a temporary file and a rename.
void save_dataset_cache(const std::string& path, const std::string& root, const Dataset& data);
// Returns false (and leaves `out` alone) when the file is missing, damaged or for other data.
bool load_dataset_cache(const std::string& path, const std::string& root, int size,
                        const std::vector<std::string>& files, Dataset* out);

}  // namespace scenecam
