// An image folder on disk: root/<class>/<image>, classes named and ordered by their folders.
#pragma once

#include <string>
#include <vector>

#include "scenecam/dataset.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

struct FolderListing {
  std::vector<std::string> class_names;  // sorted
  std::vector<std::string> files;        // sorted within each class, classes in order
  std::vector<int32_t> labels;
  std::vector<std::string> empty_folders;  // folders under root without an image: not classes
};

// True for the image file names scenecam reads: .jpg, .jpeg, .png, .bmp (any case).
bool is_image_file_name(const std::string& path);

// Files as given, folders expanded to every image file below them (recursively, sorted): the
// inputs of predict and explain. An entry with an image's name that is not a folder is listed
// even when it cannot be read (a dangling or looping link), so that reading it names the problem.
std::vector<std::string> expand_image_inputs(const std::vector<std::string>& inputs);

// Decodes `paths` at size x size into a dataset (in order; at most `limit` images when > 0). An
// image inside a folder named after one of `classes` gets that label, any other -1. A file that
// cannot be read is left out, and errors[i] says why ("" for the files that were read).
Dataset read_image_files(const std::vector<std::string>& paths, int size,
                         const std::vector<std::string>& classes, std::vector<std::string>* errors,
                         int64_t limit = 0);

// Throws, naming `what`, when `count` RGB images of size x size would not fit in this machine's
// memory.
void check_images_fit(const std::string& what, int64_t count, int size);

// On stderr: the files of a decoded folder that were skipped, and why (the first few), and the
// folders that held no image.
void warn_about_folder(const Dataset& data, const std::string& root);

// The data a config names: synthetic scenes or an image folder, with its train/val split.
Dataset load_training_data(const RunConfig& config, Split* split);

// Lists root/<class>/*.{jpg,jpeg,png,bmp} (case-insensitive; hidden entries ignored; entries that
// cannot be inspected, such as looping links, are listed and fail when decoded). Throws when root
// is not a folder, holds no image, or holds fewer than two classes.
FolderListing list_image_folder(const std::string& root);

// Decodes every listed image in parallel (threads <= 0: all cores) at size x size. Unreadable
// files are skipped and counted (Dataset::skipped). With a cache file, a matching cache is loaded
// instead, and a fresh decode is saved to it.
Dataset load_image_folder(const std::string& root, int size, int threads,
                          const std::string& cache_file);

}  // namespace scenecam
