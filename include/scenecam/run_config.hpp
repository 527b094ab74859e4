// RunConfig: everything a training run is told, after validation. Plain data (std only), part of
// the engine's vocabulary; the YAML reader and writer (config.hpp, src/config/) sit above the
// engine, which only reads these structs.
//
// Structural values (the architecture and the number of classes) have no defaults: a config must
// say them. Everything else has the default written here, and the effective config written into
// the run folder spells every value out.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace scenecam {

// The choices a config names by word, parsed once by the config reader; name_of gives the word
// back (for config.yaml and messages). Each table lists the words in the enum's order.
enum class Crop { pad, resized, none };
enum class Optimizer { sgd, adamw };
enum class Schedule { constant, cosine, step, onecycle };
enum class OnDevice { automatic, yes, no };
inline constexpr const char* kCropNames[] = {"pad", "resized", "none"};
inline constexpr const char* kOptimizerNames[] = {"sgd", "adamw"};
inline constexpr const char* kScheduleNames[] = {"constant", "cosine", "step", "onecycle"};
inline constexpr const char* kOnDeviceNames[] = {"auto", "true", "false"};
inline const char* name_of(Crop c) {
  return kCropNames[int(c)];
}
inline const char* name_of(Optimizer o) {
  return kOptimizerNames[int(o)];
}
inline const char* name_of(Schedule s) {
  return kScheduleNames[int(s)];
}
inline const char* name_of(OnDevice d) {
  return kOnDeviceNames[int(d)];
}

// runtime.device, parsed once: "auto" (the first GPU when there is one, else the CPU), "cpu",
// "cuda" (device 0) or "cuda:N".
struct DeviceChoice {
  enum class Kind { automatic, cpu, cuda };
  Kind kind = Kind::automatic;
  int index = 0;  // the CUDA device, for Kind::cuda

  // False (out untouched) when `text` is none of the words above.
  static bool parse(const std::string& text, DeviceChoice* out) {
    DeviceChoice d;
    if (text == "auto" || text == "cpu" || text == "cuda") {
      d.kind = text == "auto" ? Kind::automatic : text == "cpu" ? Kind::cpu : Kind::cuda;
    } else if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 10) {
      char* end = nullptr;
      const long index = std::strtol(text.c_str() + 5, &end, 10);
      if (*end != '\0' || index < 0 || text[5] == '-' || text[5] == '+') return false;
      d.kind = Kind::cuda;
      d.index = static_cast<int>(index);
    } else {
      return false;
    }
    *out = d;
    return true;
  }
  std::string str() const {
    return kind == Kind::automatic ? "auto"
           : kind == Kind::cpu     ? "cpu"
                                   : "cuda:" + std::to_string(index);
  }
};
inline constexpr const char* kDeviceChoiceWords = "auto, cpu, cuda or cuda:N";

struct ModelConfig {
  std::string arch;               // resnet18 | resnet34 | resnet50 | seed_resnet
  int64_t classes = 0;            // required
  int64_t width = 64;             // the first stage's channels; scales every stage
  std::vector<int> blocks;        // empty: the architecture's own, e.g. [2, 2, 2, 2]
  std::string stem = "imagenet";  // imagenet (7x7/2 + max pool) | small (3x3/1, no pool)
  // Initial weights: a safetensors file with torchvision/timm names, or a scenecam checkpoint
  // ("" = the seeded initialisation). init_sha256 is the file's checksum: recorded by the run,
  // verified when given.
  std::string init;
  std::string init_sha256;
  std::vector<std::string> init_exclude;  // name patterns (see train.freeze) left as initialised
};

struct AugmentConfig {
  Crop crop = Crop::pad;    // pad (random crop with zero padding) | resized | none
  int padding = 4;          // for crop: pad
  double scale_min = 0.35;  // for crop: resized, the share of the area kept
  double scale_max = 1.0;
  bool flip = true;  // random horizontal flip
};

struct DataConfig {
  std::string source;          // folder | synthetic (required)
  std::string root;            // folder: root/<class>/*.jpg|png
  std::string val_root;        // folder: validation images from here instead of a split of root
  int image_size = 0;          // required: images are resized to image_size x image_size
  double val_fraction = 0.2;   // stratified, seeded
  std::string cache_file;      // folder: decoded images are kept here ("" = none)
  int synthetic_train = 4000;  // synthetic: images per split
  int synthetic_val = 1000;
  AugmentConfig augment;
  // Keep every decoded image on the backend's device and make batches there (no host work per
  // step): auto does so on a GPU when the data takes at most half its free memory. Off by default
  // until a GPU run has verified the path.
  OnDevice on_device = OnDevice::no;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
};

struct OptimizerConfig {
  Optimizer name = Optimizer::sgd;
  double lr = 0.1;
  double momentum = 0.9;  // sgd
  bool nesterov = false;  // sgd
  double weight_decay = 5e-4;
  bool decoupled_weight_decay = false;            // sgd: SGDW instead of L2
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
  // Learning-rate factors by name pattern ({fc: 10}, {backbone: 0.1}); unlisted tensors get 1.
  std::map<std::string, double> lr_scale;
};

struct ScheduleConfig {
  Schedule name = Schedule::cosine;
  double warmup_epochs = 0;       // linear warm-up from 0 (constant, cosine, step)
  double min_lr = 0;              // cosine: the floor
  int step_epochs = 30;           // step: decay every step_epochs
  double gamma = 0.1;             // step: factor
  double pct_start = 0.3;         // onecycle: share of the run spent rising
  double div_factor = 25;         // onecycle: initial lr = lr / div_factor
  double final_div_factor = 1e4;  // onecycle: final lr = initial lr / final_div_factor
};

struct TrainConfig {
  int epochs = 0;      // required
  int batch_size = 0;  // required
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double label_smoothing = 0;
  int log_every = 10;  // steps between metrics records
  // Name patterns of tensors that do not train: a name ("layer1.0.conv1.weight"), a prefix that
  // ends at a dot ("layer1", "layer2.0.bn1"), a glob ("*.bn1.*"), or a word: stem (conv1, bn1),
  // head (fc), backbone (all but fc), up_to:layerN (stem and layer1 .. layerN). A frozen batch
  // norm runs in inference mode.
  std::vector<std::string> freeze;
  int unfreeze_at_epoch = 0;  // > 0: the freeze holds for this many epochs, then all train
};

struct RuntimeConfig {
  DeviceChoice device;  // auto | cpu | cuda | cuda:N
  uint64_t seed = 1;
  int threads = 0;  // 0: all cores
  int64_t workspace_limit_mb = 1024;
  // Record the training step once as a CUDA graph and replay it (Backend::record_step); the CPU
  // backend runs its steps op by op whatever this says.
  bool cuda_graphs = false;
};

struct OutputConfig {
  std::string dir;           // required: the run folder
  int checkpoint_every = 1;  // epochs between periodic checkpoints (last.safetensors)
};

struct RunConfig {
  std::string source_file;  // where it was read from
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  RuntimeConfig runtime;
  OutputConfig output;
};

}  // namespace scenecam
