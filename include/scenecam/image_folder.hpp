// An image folder on disk: root/<class>/<image>, classes named and ordered by their folders.
#pragma once

#include <string>
#include <vector>

#include "scenecam/dataset.hpp"

namespace scenecam {

struct FolderListing {
  std::vector<std::string> class_names;  // sorted
  std::vector<std::string> files;        // sorted within each class, classes in order
  std::vector<int32_t> labels;
};

// True for the image file names scenecam reads: .jpg, .jpeg, .png, .bmp (any case).
bool is_image_file_name(const std::string& path);

// Lists root/<class>/*.{jpg,jpeg,png,bmp} (case-insensitive; hidden entries ignored). Throws when
// root is not a folder, holds no image, or holds fewer than two classes.
FolderListing list_image_folder(const std::string& root);

// Decodes every listed image in parallel (threads <= 0: all cores) at size x size. Unreadable
// files are skipped and counted (Dataset::skipped). With a cache file, a matching cache is loaded
// instead, and a fresh decode is saved to it.
Dataset load_image_folder(const std::string& root, int size, int threads,
                          const std::string& cache_file);

}  // namespace scenecam
