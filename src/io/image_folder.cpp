// Image folders: listing, parallel decoding, and the cache that lets a second run skip decoding.
#include "scenecam/image_folder.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "internal/progress.hpp"
#include "scenecam/data.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/interrupt.hpp"

namespace scenecam {
namespace fs = std::filesystem;

bool is_image_file_name(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::vector<std::string> expand_image_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> paths;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (!fs::is_directory(in, ec)) {
      paths.push_back(in);
      continue;
    }
    // Hidden entries are left out (and hidden folders not entered), as list_image_folder does; a
    // folder that cannot be read is passed over rather than ending the walk.
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code kind;
      const bool hidden = it->path().filename().string().rfind('.', 0) == 0;
      const bool folder = it->is_directory(kind);
      if (hidden && folder) it.disable_recursion_pending();
      if (!hidden && !folder && is_image_file_name(it->path().string()))
        found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    paths.insert(paths.end(), found.begin(), found.end());
  }
  return paths;
}

Dataset read_image_files(const std::vector<std::string>& paths, int size,
                         const std::vector<std::string>& classes, std::vector<std::string>* errors,
                         int64_t limit) {
  Dataset data;
  data.image_size = size;
  data.class_names = classes;
  errors->assign(paths.size(), "");
  for (size_t i = 0; i < paths.size(); ++i) {
    if (limit > 0 && int64_t(data.images.size()) >= limit) break;
    if (interrupt_requested()) throw_interrupted("reading images");
    ImageU8 img;
    if (!read_image_file(paths[i], size, &img, &(*errors)[i])) continue;
    const std::string parent = fs::path(paths[i]).parent_path().filename().string();
    const auto it = std::find(classes.begin(), classes.end(), parent);
    data.labels.push_back(it == classes.end() ? -1 : int32_t(it - classes.begin()));
    data.images.push_back(std::move(img));
    data.files.push_back(paths[i]);
  }
  return data;
}

namespace {

bool hidden(const fs::path& p) {
  return !p.filename().empty() && p.filename().string()[0] == '.';
}

constexpr size_t kSkippedExamples = 5;

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(1ull << 30));
  return text;
}

}  // namespace

void check_images_fit(const std::string& what, int64_t count, int size) {
  const double need = double(count) * size * size * 3;
  const double have = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  SC_CHECK(have <= 0 || need <= have, what, ": ", count, " images of ", size, "x", size, " need ",
           gib(need), " of memory for their pixels; this machine has ", gib(have));
}

FolderListing list_image_folder(const std::string& root) {
  std::error_code ec;
  SC_CHECK(fs::is_directory(root, ec), root,
           ": not a folder (data.root must be root/<class>/<images>)");
  std::vector<fs::path> class_dirs;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code kind;
    if (it->is_directory(kind) && !hidden(it->path())) class_dirs.push_back(it->path());
  }
  SC_CHECK(!ec, root, ": cannot list the folder (", ec.message(), ")");
  std::sort(class_dirs.begin(), class_dirs.end());

  FolderListing listing;
  for (const fs::path& dir : class_dirs) {
    std::vector<std::string> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code kind;  // a looping or dangling link: listed, and named when decoded
      if (!hidden(it->path()) && !it->is_directory(kind) && is_image_file_name(it->path().string()))
        files.push_back(it->path().string());
    }
    SC_CHECK(!ec, dir.string(), ": cannot list the folder (", ec.message(), ")");
    if (files.empty()) {  // a folder without images is not a class
      listing.empty_folders.push_back(dir.filename().string());
      continue;
    }
    std::sort(files.begin(), files.end());
    const int32_t label = static_cast<int32_t>(listing.class_names.size());
    listing.class_names.push_back(dir.filename().string());
    for (std::string& f : files) {
      listing.files.push_back(std::move(f));
      listing.labels.push_back(label);
    }
  }
  std::string empty;
  for (const std::string& f : listing.empty_folders)
    empty += (empty.empty() ? "; folders without images: " : ", ") + f + "/";
  SC_CHECK(!listing.files.empty(), root, ": no images found (expected root/<class>/*.jpg|png)",
           empty);
  SC_CHECK(listing.class_names.size() >= 2, root, ": only one class ('",
           listing.class_names.front(), "'); classification needs at least two class folders",
           empty);
  return listing;
}

Dataset load_image_folder(const std::string& root, int size, int threads,
                          const std::string& cache_file) {
  const FolderListing listing = list_image_folder(root);
  Dataset d;
  if (!cache_file.empty() && load_dataset_cache(cache_file, root, size, listing.files, &d)) {
    d.from_cache = true;
    d.empty_folders = listing.empty_folders;
    return d;
  }

  const int64_t n = static_cast<int64_t>(listing.files.size());
  check_images_fit(root, n, size);
  std::vector<ImageU8> images(n);
  std::vector<std::string> why(n);
  std::vector<char> ok(n, 0);
  std::atomic<int64_t> done{0};
  Progress progress("decode", n);
  const int team = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for num_threads(team) schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    if (interrupt_requested()) continue;  // Ctrl-C: the rest are passed over
    ok[i] = read_image_file(listing.files[i], size, &images[i], &why[i]);
    const int64_t finished = ++done;
    if (omp_get_thread_num() == 0) progress.update(finished, "");
  }
  progress.finish(interrupt_requested() ? "interrupted" : "");
  if (interrupt_requested())
    throw_interrupted("decoding " + root + " (" + std::to_string(done.load()) + " of " +
                      std::to_string(n) + " images read)");

  d.image_size = size;
  d.class_names = listing.class_names;
  d.empty_folders = listing.empty_folders;
  for (int64_t i = 0; i < n; ++i) {
    if (!ok[i]) {
      if (d.skipped_examples.size() < kSkippedExamples)
        d.skipped_examples.push_back(listing.files[i] + ": " + why[i]);
      ++d.skipped;
      continue;
    }
    d.images.push_back(std::move(images[i]));
    d.labels.push_back(listing.labels[i]);
    d.files.push_back(listing.files[i]);
  }
  SC_CHECK(!d.images.empty(), root, ": none of the ", n,
           " image files could be decoded (first: ", d.skipped_examples.front(), ")");
  if (!cache_file.empty()) save_dataset_cache(cache_file, root, d);
  return d;
}

}  // namespace scenecam

namespace scenecam {

void warn_about_folder(const Dataset& data, const std::string& root) {
  if (data.skipped > 0) {
    std::fprintf(stderr, "warning: %s: skipped %ld unreadable file%s:\n", root.c_str(),
                 long(data.skipped), data.skipped == 1 ? "" : "s");
    for (const std::string& s : data.skipped_examples)
      std::fprintf(stderr, "  %s\n", s.c_str());
    const int64_t more = data.skipped - int64_t(data.skipped_examples.size());
    if (more > 0) std::fprintf(stderr, "  and %ld more\n", long(more));
  }
  if (!data.empty_folders.empty()) {
    std::fprintf(stderr, "warning: %s: folders without images, not classes:", root.c_str());
    for (const std::string& f : data.empty_folders)
      std::fprintf(stderr, " %s/", f.c_str());
    std::fprintf(stderr, "\n");
  }
}

namespace {

// data.val_root: every image of root trains, every image of val_root validates; both folders
// must name the same classes.
void append_validation_folder(const RunConfig& config, Dataset* data, Split* split) {
  const DataConfig& d = config.data;
  const std::string cache = d.cache_file.empty() ? "" : d.cache_file + ".val";
  Dataset val = load_image_folder(d.val_root, d.image_size, config.runtime.threads, cache);
  std::printf("data: %zu validation images from %s\n", val.images.size(), d.val_root.c_str());
  warn_about_folder(val, d.val_root);
  auto listed = [](const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names)
      out += (out.empty() ? "" : ", ") + n;
    return "[" + out + "]";
  };
  SC_CHECK(val.class_names == data->class_names, d.val_root, ": its classes ",
           listed(val.class_names), " differ from ", d.root, "'s ", listed(data->class_names),
           val.empty_folders.empty() ? "" : " (folders without images are not classes: ",
           val.empty_folders.empty() ? "" : listed(val.empty_folders) + ")",
           "; data.val_root must hold the same class folders");
  const int64_t n_train = static_cast<int64_t>(data->images.size());
  split->train.resize(n_train);
  std::iota(split->train.begin(), split->train.end(), 0);
  split->val.resize(val.images.size());
  std::iota(split->val.begin(), split->val.end(), n_train);
  auto append = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  append(data->images, val.images);
  append(data->labels, val.labels);
  append(data->files, val.files);
  data->skipped += val.skipped;
}

}  // namespace

Dataset load_training_data(const RunConfig& config, Split* split) {
  const DataConfig& d = config.data;
  if (d.source == "synthetic") {
    // Training images first, then validation images: a split by index.
    check_images_fit("data.synthetic_train + data.synthetic_val",
                     int64_t(d.synthetic_train) + d.synthetic_val, d.image_size);
    Dataset data = make_synthetic_dataset(d.image_size, config.runtime.seed, 0,
                                          d.synthetic_train + d.synthetic_val);
    split->train.resize(d.synthetic_train);
    std::iota(split->train.begin(), split->train.end(), 0);
    split->val.resize(d.synthetic_val);
    std::iota(split->val.begin(), split->val.end(), d.synthetic_train);
    return data;
  }
  Dataset data = load_image_folder(d.root, d.image_size, config.runtime.threads, d.cache_file);
  std::printf("data: %zu images in %zu classes from %s%s%s\n", data.images.size(),
              data.class_names.size(), d.root.c_str(),
              data.from_cache ? ", decoded earlier into " : "",
              data.from_cache ? d.cache_file.c_str() : "");
  warn_about_folder(data, d.root);
  if (d.val_root.empty()) {
    *split = stratified_split(data.labels, static_cast<int>(data.class_names.size()),
                              d.val_fraction, config.runtime.seed);
    return data;
  }
  append_validation_folder(config, &data, split);
  return data;
}

}  // namespace scenecam
