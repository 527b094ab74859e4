// scenecam-bench input: the training input pipeline alone, at each batch size: images/s of a
// batch made the staged way (BatchInput: drawn and copied on the host, uploaded without waiting,
// augmented on the device) and the resident way (ResidentData: drawn, gathered and augmented on
// the device from a dataset uploaded once), over synthetic scenes with random resized crops and
// flips. Each timed run makes a whole pass of batches and waits for the device once at its end,
// as training does, so the staged path's uploads overlap its host work. Both paths must give the
// same first batch before anything is timed.
#include <cstdio>
#include <cstring>

#include "bench_util.hpp"
#include "internal/progress.hpp"
#include "scenecam/dataset.hpp"
#include "train/batch.hpp"
#include "train/resident.hpp"

namespace scenecam::bench {

namespace {

std::vector<char> host_bytes(Backend& be, const Tensor& t) {
  std::vector<char> bytes(t.nbytes());
  be.copy(t, Tensor(bytes.data(), t.shape(), t.dtype(), Device::cpu()));
  return bytes;
}

struct InputTimes {
  double staged, resident;  // median seconds per batch
};

InputTimes time_batches(Backend& be, const Dataset& data, int64_t B, int repeats) {
  DataConfig cfg;
  cfg.image_size = data.image_size;
  cfg.augment.crop = Crop::resized;
  Split split;
  for (int64_t i = 0; i < int64_t(data.images.size()); ++i)
    split.train.push_back(i);
  split.val.push_back(0);
  BatchInput staged(be, B, data.image_size, 6, cfg);
  ResidentData resident(be, data, cfg, split, B);
  resident.set_train_order(split.train);
  const int64_t batches = int64_t(split.train.size()) / B;
  Tensor images, labels;
  auto staged_pass = [&] {
    for (int64_t k = 0; k < batches; ++k)
      staged.load(data, split.train.data() + k * B, B, true, 1, 0, &images, &labels);
    be.synchronize();
  };
  auto resident_pass = [&] {
    for (int64_t k = 0; k < batches; ++k)
      resident.load(true, k * B, B, augment_epoch_seed(1, 0), &images, &labels);
    be.synchronize();
  };
  staged.load(data, split.train.data(), B, true, 1, 0, &images, &labels);
  const std::vector<char> want = host_bytes(be, images), want_labels = host_bytes(be, labels);
  resident.load(true, 0, B, augment_epoch_seed(1, 0), &images, &labels);
  SC_CHECK(host_bytes(be, images) == want && host_bytes(be, labels) == want_labels,
           "input benchmark: the resident path's first batch of ", B,
           " differs from the staged one; the pipeline is broken, not slow");
  const auto [staged_s, resident_s] = paired_median_seconds(staged_pass, resident_pass, repeats);
  return {staged_s / double(batches), resident_s / double(batches)};
}

}  // namespace

int run_input(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"},
                     {"batch", ""},
                     {"input", ""},
                     {"images", ""},
                     {"repeats", "3"},
                     {"threads", "0"},
                     {"json", ""}});
  auto backend = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));
  const bool gpu = backend->device().is_cuda();
  const int S = flags.given("input") ? int(flags.integer("input", 16, 1024)) : gpu ? 150 : 64;
  const std::vector<long> batches = flags.given("batch") ? flags.integers("batch")
                                    : gpu                ? std::vector<long>{64, 256, 512}
                                                         : std::vector<long>{64};
  long most = 0;
  for (long B : batches)
    most = std::max(most, B);
  const long count =
      flags.given("images") ? flags.integer("images") : std::max(gpu ? 4096L : 512L, most);
  SC_USAGE_CHECK(count >= most, "--images ", count, " is fewer than one batch of ", most);
  const int repeats = static_cast<int>(flags.integer("repeats", 1, 1000));

  std::printf(
      "scenecam-bench input: %ld synthetic %dx%d scenes, random resized crops and flips, "
      "on %s; median of %d passes\n",
      count, S, S, backend->name().c_str(), repeats);
  const Dataset data = make_synthetic_dataset(S, 1, 0, int(count));
  Table table({"device", "batch", "input", "staged_images_per_s", "resident_images_per_s",
               "resident_speedup"});
  Progress progress("input", int64_t(batches.size()), stderr);
  for (size_t i = 0; i < batches.size(); ++i) {
    progress.update(int64_t(i), "batch " + std::to_string(batches[i]));
    const InputTimes t = time_batches(*backend, data, batches[i], repeats);
    table.add({backend->name(), std::to_string(batches[i]), std::to_string(S),
               fixed(batches[i] / t.staged, 1), fixed(batches[i] / t.resident, 1),
               fixed(t.staged / t.resident, 2)});
  }
  progress.finish("done");
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"),
                     "\"bench\": \"input\", \"backend\": \"" + backend->name() + "\"");
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
