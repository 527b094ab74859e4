// The field table (fields.hpp): every config key, in the order config.yaml lists them.
#include "fields.hpp"

#include <initializer_list>
#include <iterator>

namespace scenecam::config {
namespace {

// "" when value is one of `allowed`, else the message that lists them.
std::string one_of(const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return "";
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return "'" + value + "' is not one of " + list;
}

std::string unless(bool ok, const char* message) {
  return ok ? "" : message;
}

// Captureless lambdas, so they convert to the table's function pointers.
#define SC_VALUE(member) [](RunConfig& c) -> FieldValue { return &c.member; }
#define SC_CHECK_THAT(condition, message) \
  [](const RunConfig& c) { return unless(condition, message); }

std::string check_blocks(const RunConfig& c) {
  if (!c.model.blocks.empty() && c.model.blocks.size() != 4) return "must list 4 stages";
  for (int b : c.model.blocks)
    if (b < 1 || b > 64) return "each stage needs 1 to 64 blocks";
  return "";
}

std::string check_sha256(const RunConfig& c) {
  const std::string& h = c.model.init_sha256;
  if (h.empty()) return "";
  if (c.model.init.empty()) return "needs model.init";
  bool hex = h.size() == 64;
  for (char ch : h)
    hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  return unless(hex, "must be 64 lower-case hexadecimal digits (SHA-256)");
}

// The table itself: data, not code, so it reads as the config's reference does.
const Field kFieldTable[] = {
    {"model.arch", SC_VALUE(model.arch), true,
     [](const RunConfig& c) {
       return one_of(c.model.arch, {"resnet18", "resnet34", "resnet50", "seed_resnet"});
     }},
    {"model.classes", SC_VALUE(model.classes), true,
     SC_CHECK_THAT(c.model.classes >= 2, "must be at least 2")},
    {"model.width", SC_VALUE(model.width), false,
     SC_CHECK_THAT(c.model.width >= 4 && c.model.width <= 4096, "must be in [4, 4096]")},
    {"model.blocks", SC_VALUE(model.blocks), false, check_blocks, nullptr, true},
    {"model.stem", SC_VALUE(model.stem), false,
     [](const RunConfig& c) {
       return one_of(c.model.stem, {"imagenet", "small"});
     }},
    {"model.init", SC_VALUE(model.init), false, nullptr, nullptr, true},
    {"model.init_sha256", SC_VALUE(model.init_sha256), false, check_sha256, nullptr, true},
    {"model.init_exclude", SC_VALUE(model.init_exclude), false, nullptr, nullptr, true},
    {"data.source", SC_VALUE(data.source), true,
     [](const RunConfig& c) {
       return one_of(c.data.source, {"folder", "synthetic"});
     }},
    {"data.root", SC_VALUE(data.root), false, nullptr, nullptr, true,
     [](const RunConfig& c) { return c.data.source == "folder"; }},
    {"data.val_root", SC_VALUE(data.val_root), false,
     SC_CHECK_THAT(c.data.val_root.empty() || c.data.source == "folder",
                   "is for data.source: folder"),
     nullptr, true},
    {"data.image_size", SC_VALUE(data.image_size), true,
     SC_CHECK_THAT(c.data.image_size >= 16 && c.data.image_size <= 1024, "must be in [16, 1024]")},
    {"data.val_fraction", SC_VALUE(data.val_fraction), false,
     SC_CHECK_THAT(c.data.val_fraction > 0 && c.data.val_fraction < 1, "must be in (0, 1)")},
    {"data.cache_file", SC_VALUE(data.cache_file)},
    {"data.synthetic_train", SC_VALUE(data.synthetic_train), false,
     SC_CHECK_THAT(c.data.synthetic_train >= 1 && c.data.synthetic_train <= 100000000,
                   "must be in [1, 100000000]")},
    {"data.synthetic_val", SC_VALUE(data.synthetic_val), false,
     SC_CHECK_THAT(c.data.synthetic_val >= 1 && c.data.synthetic_val <= 100000000,
                   "must be in [1, 100000000]")},
    {"data.augment.crop", SC_VALUE(data.augment.crop)},
    {"data.augment.padding", SC_VALUE(data.augment.padding), false,
     SC_CHECK_THAT(c.data.augment.padding >= 0 && c.data.augment.padding < c.data.image_size,
                   "must be in [0, image_size)")},
    {"data.augment.scale_min", SC_VALUE(data.augment.scale_min)},
    {"data.augment.scale_max", SC_VALUE(data.augment.scale_max), false,
     [](const RunConfig& c) {
       const AugmentConfig& a = c.data.augment;
       return unless(a.scale_min > 0 && a.scale_min <= a.scale_max && a.scale_max <= 1,
                     "needs 0 < scale_min <= scale_max <= 1");
     }},
    {"data.augment.flip", SC_VALUE(data.augment.flip)},
    {"data.on_device", SC_VALUE(data.on_device)},
    {"data.mean", SC_VALUE(data.mean), false,
     SC_CHECK_THAT(c.data.mean.size() == 3, "must list 3 values (R, G, B)")},
    {"data.std", SC_VALUE(data.std), false,
     [](const RunConfig& c) {
       bool ok = c.data.std.size() == 3;
       for (float v : c.data.std)
         ok = ok && v > 0;
       return unless(ok, "must list 3 positive values (R, G, B)");
     }},
    {"train.epochs", SC_VALUE(train.epochs), true,
     SC_CHECK_THAT(c.train.epochs >= 1 && c.train.epochs <= 100000, "must be in [1, 100000]")},
    {"train.batch_size", SC_VALUE(train.batch_size), true,
     SC_CHECK_THAT(c.train.batch_size >= 2 && c.train.batch_size <= 65536,
                   "must be in [2, 65536]")},
    {"train.label_smoothing", SC_VALUE(train.label_smoothing), false,
     SC_CHECK_THAT(c.train.label_smoothing >= 0 && c.train.label_smoothing < 1,
                   "must be in [0, 1)")},
    {"train.log_every", SC_VALUE(train.log_every), false,
     SC_CHECK_THAT(c.train.log_every >= 1, "must be at least 1")},
    {"train.freeze", SC_VALUE(train.freeze), false, nullptr, nullptr, true},
    {"train.unfreeze_at_epoch", SC_VALUE(train.unfreeze_at_epoch), false,
     [](const RunConfig& c) {
       const TrainConfig& t = c.train;
       if (t.unfreeze_at_epoch == 0) return std::string();
       if (t.freeze.empty()) return std::string("needs train.freeze");
       return unless(t.unfreeze_at_epoch > 0 && t.unfreeze_at_epoch < t.epochs,
                     "must be in [1, epochs) (0: never)");
     }},
    {"train.optimizer.name", SC_VALUE(train.optimizer.name), false, nullptr,
     [](RunConfig& c) {  // AdamW's customary default decay, unless the config sets one
       if (c.train.optimizer.name == Optimizer::adamw) c.train.optimizer.weight_decay = 0.01;
     }},
    {"train.optimizer.lr", SC_VALUE(train.optimizer.lr), false,
     SC_CHECK_THAT(c.train.optimizer.lr > 0 && c.train.optimizer.lr < 100, "must be in (0, 100)")},
    {"train.optimizer.momentum", SC_VALUE(train.optimizer.momentum), false,
     SC_CHECK_THAT(c.train.optimizer.momentum >= 0 && c.train.optimizer.momentum < 1,
                   "must be in [0, 1)")},
    {"train.optimizer.nesterov", SC_VALUE(train.optimizer.nesterov), false,
     SC_CHECK_THAT(!c.train.optimizer.nesterov || c.train.optimizer.momentum > 0,
                   "needs momentum > 0")},
    {"train.optimizer.weight_decay", SC_VALUE(train.optimizer.weight_decay), false,
     SC_CHECK_THAT(c.train.optimizer.weight_decay >= 0 && c.train.optimizer.weight_decay < 1,
                   "must be in [0, 1)")},
    {"train.optimizer.decoupled_weight_decay", SC_VALUE(train.optimizer.decoupled_weight_decay)},
    {"train.optimizer.beta1", SC_VALUE(train.optimizer.beta1), false,
     SC_CHECK_THAT(c.train.optimizer.beta1 >= 0 && c.train.optimizer.beta1 < 1,
                   "must be in [0, 1)")},
    {"train.optimizer.beta2", SC_VALUE(train.optimizer.beta2), false,
     SC_CHECK_THAT(c.train.optimizer.beta2 >= 0 && c.train.optimizer.beta2 < 1,
                   "must be in [0, 1)")},
    {"train.optimizer.eps", SC_VALUE(train.optimizer.eps), false,
     SC_CHECK_THAT(c.train.optimizer.eps > 0, "must be positive")},
    {"train.optimizer.lr_scale", SC_VALUE(train.optimizer.lr_scale), false,
     [](const RunConfig& c) {
       for (const auto& [pattern, scale] : c.train.optimizer.lr_scale)
         if (!(scale >= 0 && scale <= 1000)) return "'" + pattern + "': must be in [0, 1000]";
       return std::string();
     },
     nullptr, true},
    {"train.schedule.name", SC_VALUE(train.schedule.name)},
    {"train.schedule.warmup_epochs", SC_VALUE(train.schedule.warmup_epochs), false,
     SC_CHECK_THAT(
         c.train.schedule.warmup_epochs >= 0 && c.train.schedule.warmup_epochs < c.train.epochs,
         "must be in [0, epochs)")},
    {"train.schedule.min_lr", SC_VALUE(train.schedule.min_lr), false,
     SC_CHECK_THAT(c.train.schedule.min_lr >= 0 && c.train.schedule.min_lr <= c.train.optimizer.lr,
                   "must be in [0, optimizer.lr]")},
    {"train.schedule.step_epochs", SC_VALUE(train.schedule.step_epochs), false,
     SC_CHECK_THAT(c.train.schedule.step_epochs >= 1, "must be at least 1")},
    {"train.schedule.gamma", SC_VALUE(train.schedule.gamma), false,
     SC_CHECK_THAT(c.train.schedule.gamma > 0 && c.train.schedule.gamma <= 1, "must be in (0, 1]")},
    {"train.schedule.pct_start", SC_VALUE(train.schedule.pct_start), false,
     SC_CHECK_THAT(c.train.schedule.pct_start > 0 && c.train.schedule.pct_start < 1,
                   "must be in (0, 1)")},
    {"train.schedule.div_factor", SC_VALUE(train.schedule.div_factor), false,
     SC_CHECK_THAT(c.train.schedule.div_factor >= 1, "must be at least 1")},
    {"train.schedule.final_div_factor", SC_VALUE(train.schedule.final_div_factor), false,
     SC_CHECK_THAT(c.train.schedule.final_div_factor >= 1, "must be at least 1")},
    {"runtime.device", SC_VALUE(runtime.device)},
    {"runtime.seed", SC_VALUE(runtime.seed)},
    {"runtime.threads", SC_VALUE(runtime.threads), false,
     SC_CHECK_THAT(c.runtime.threads >= 0 && c.runtime.threads <= 1024,
                   "must be in [0, 1024] (0: all cores)")},
    {"runtime.workspace_limit_mb", SC_VALUE(runtime.workspace_limit_mb), false,
     SC_CHECK_THAT(c.runtime.workspace_limit_mb >= 1, "must be at least 1")},
    {"runtime.cuda_graphs", SC_VALUE(runtime.cuda_graphs)},
    {"output.dir", SC_VALUE(output.dir), true,
     SC_CHECK_THAT(!c.output.dir.empty(), "must not be empty")},
    {"output.checkpoint_every", SC_VALUE(output.checkpoint_every), false,
     SC_CHECK_THAT(c.output.checkpoint_every >= 1, "must be at least 1")},
};

#undef SC_VALUE
#undef SC_CHECK_THAT

}  // namespace

const std::vector<Field>& fields() {
  static const std::vector<Field> table(std::begin(kFieldTable), std::end(kFieldTable));
  return table;
}

bool section_required(const std::string& path) {
  return path == "model" || path == "data" || path == "train" || path == "output";
}

}  // namespace scenecam::config
