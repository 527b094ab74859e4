// The training loop. One Run object owns everything a run touches, laid out before the first step:
// the model's arenas, the optimizer state arena, the batch buffers and the per-step activation
// arena. A step is: prepare the batch on the host -> copy it to the backend -> forward -> fused
// softmax cross-entropy -> backward -> optimizer update per weight-decay group -> reset the arena.
#include "scenecam/trainer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "internal/files.hpp"
#include "internal/progress.hpp"
#include "internal/random.hpp"
#include "scenecam/checkpoint.hpp"
#include "scenecam/finetune.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/safetensors.hpp"
#include "train/batch.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

double learning_rate(const TrainConfig& t, int64_t step, int64_t steps_per_epoch) {
  const double lr = t.optimizer.lr;
  const ScheduleConfig& s = t.schedule;
  const double total = double(t.epochs) * steps_per_epoch;
  if (s.name == Schedule::onecycle) {
    // PyTorch's OneCycleLR with cosine annealing: lr/div -> lr over pct_start, then ->
    // lr/div/final.
    const double initial = lr / s.div_factor, floor = initial / s.final_div_factor;
    const double rise = std::max(1.0, s.pct_start * total - 1),
                 fall = std::max(1.0, total - 1 - rise);
    auto anneal = [](double from, double to, double pct) {
      return to + (from - to) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, pct)));
    };
    return step <= rise ? anneal(initial, lr, step / rise)
                        : anneal(lr, floor, (step - rise) / fall);
  }
  const double warmup = s.warmup_epochs * steps_per_epoch;
  // Linear warm-up to the peak, which a fractional warm-up's last step must not pass.
  if (step < warmup) return lr * std::min(1.0, (step + 1) / warmup);
  if (s.name == Schedule::cosine) {
    const double progress = (step - warmup) / std::max(1.0, total - warmup);
    return s.min_lr + (lr - s.min_lr) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress)));
  }
  if (s.name == Schedule::step)
    return lr * std::pow(s.gamma, std::floor(double(step / steps_per_epoch) / s.step_epochs));
  return lr;  // constant
}

namespace {

// A run of the parameter arena that the optimizer updates with one call: its tensors share the
// weight decay group, the learning-rate factor and the step they started training at.
struct UpdateSegment {
  int64_t begin = 0, end = 0;  // elements of the arena, alignment padding included
  bool decayed = false;
  double lr_scale = 1;
  int64_t first_step = 0;  // AdamW counts its bias correction from here
};

struct EpochStats : RunningTotals {
  double accuracy() const { return seen ? double(correct) / seen : 0; }
  double mean_loss() const { return seen ? loss / seen : 0; }
};

class Run {
 public:
  Run(const RunConfig& config, const Dataset& data, const Split& split, Backend& backend,
      const TrainOptions& options);
  TrainResult train();

 private:
  void begin();
  void initialise_from_file();
  void apply_freeze_schedule();
  void update_weights(double lr);
  bool train_epoch();
  void log_steps(const EpochStats& window, double lr, Progress* progress);
  double end_epoch(std::chrono::steady_clock::time_point start, int last_epoch,
                   TrainResult* result);
  void check_inputs() const;
  void prepare_folder();
  void restore(const std::string& checkpoint);
  void trim_metrics();
  void save(const std::string& path);
  EpochStats evaluate();
  // Runs the batch `indices` through forward (and, when training, backward and an update at
  // learning rate lr).
  void step(const int64_t* indices, int64_t count, bool training, int64_t epoch, double lr,
            EpochStats* stats);
  void write_metric(const json& record);
  // Throws TrainingDiverged: what went wrong (the pieces streamed), and the last good checkpoint.
  template <typename... Parts>
  [[noreturn]] void diverged(const Parts&... parts) const {
    std::ostringstream what;
    (what << ... << parts);
    const fs::path last = dir_ / "last.safetensors";
    throw TrainingDiverged("train: " + what.str() + "; stopping. " +
                           (fs::exists(last) ? "The last good checkpoint is " + last.string()
                                             : std::string("No checkpoint was written yet.")));
  }
  std::vector<std::pair<std::string, Tensor>> checkpoint_tensors() const;

  const RunConfig& cfg_;
  const Dataset& data_;
  const Split& split_;
  Backend& backend_;
  TrainOptions options_;
  fs::path dir_;

  ResNet model_;
  std::unique_ptr<Pool> state_pool_, arena_;
  Block state_block_[2];
  Tensor state_[2];  // SGD: momentum; AdamW: exp_avg, exp_avg_sq
  BatchInput batch_;
  Tensor loss_;
  float host_loss_ = 0;
  int64_t steps_per_epoch_ = 0;
  std::unique_ptr<LineAppender> metrics_;
  std::vector<bool> freeze_;       // train.freeze, one flag per parameter entry
  std::vector<double> lr_scales_;  // train.optimizer.lr_scale, likewise
  std::vector<UpdateSegment>
      segments_;  // for the current epoch's freeze  // metrics.jsonl, open for the whole run

  // Training state (what a checkpoint records).
  int64_t epoch_ = 0;          // completed epochs
  int64_t step_in_epoch_ = 0;  // steps done in the current epoch
  int64_t global_step_ = 0;
  double best_val_accuracy_ = -1;
  EpochStats epoch_stats_;  // the current epoch's training steps so far
  EpochStats window_;       // the steps since the last step record

  struct Timing {
    double train_seconds = 0;  // in training steps only
    int64_t trained_images = 0;
  } timing_;
};

Run::Run(const RunConfig& config, const Dataset& data, const Split& split, Backend& backend,
         const TrainOptions& options)
    : cfg_(config),
      data_(data),
      split_(split),
      backend_(backend),
      options_(options),
      dir_(config.output.dir),
      model_(resnet_spec(config.model)),
      batch_(backend, config.train.batch_size, data.image_size, config.model.classes, config.data) {
  check_inputs();
  const int64_t B = cfg_.train.batch_size;
  steps_per_epoch_ = static_cast<int64_t>(split_.train.size()) / B;

  model_.materialize(backend_, cfg_.runtime.seed);
  const Tensor values = model_.params().values();
  const int slots = cfg_.train.optimizer.name == Optimizer::adamw ? 2 : 1;
  const TensorSize state{values.shape(), DType::f32}, loss{{1}, DType::f32};
  state_pool_ = backend_.make_pool(
      "optimizer state",
      slots == 2 ? pool_capacity({state, state, loss}) : pool_capacity({state, loss}), false);
  const char* state_names[2] = {"optimizer state 0", "optimizer state 1"};
  for (int i = 0; i < slots; ++i) {
    state_block_[i] =
        state_pool_->allocate_tensor(values.shape(), DType::f32, state_names[i], &state_[i]);
    backend_.fill(state_[i], 0.0);
  }
  loss_ = state_pool_->take(Shape{1}, DType::f32, "loss");
  arena_ = backend_.make_pool("activations", 0, /*growable=*/true);
  freeze_ = frozen_by(cfg_.train.freeze, model_.params(), cfg_.source_file + ": train.freeze");
  lr_scales_ = lr_scales(cfg_.train.optimizer.lr_scale, model_.params());
  bool trains = false;
  for (size_t i = 0; i < freeze_.size(); ++i)
    trains = trains || (model_.params()[int(i)].kind != ParamKind::buffer && !freeze_[i]);
  SC_CHECK(trains || cfg_.train.unfreeze_at_epoch > 0, cfg_.source_file,
           ": train.freeze leaves no tensor to train");
}

void Run::initialise_from_file() {
  const InitSummary s = load_initial_weights(cfg_.model, model_.params(), backend_);
  std::printf("init: %d tensors from %s (sha256 %.12s)", s.loaded, cfg_.model.init.c_str(),
              cfg_.model.init_sha256.c_str());
  if (!s.excluded.empty())
    std::printf("; %zu left as initialised (model.init_exclude)", s.excluded.size());
  if (s.ignored) std::printf("; %d of the file's tensors have no place here", s.ignored);
  std::printf("\n");
  if (!s.head_reset.empty())
    std::printf("init: the head (fc) is re-initialised for %ld classes: %s\n",
                long(cfg_.model.classes), s.head_reset.c_str());
}

// The epoch's frozen tensors (train.freeze until train.unfreeze_at_epoch), and the optimizer's
// segments for them: a function of the epoch alone, so a resumed run freezes as the straight one.
void Run::apply_freeze_schedule() {
  const int unfreeze = cfg_.train.unfreeze_at_epoch;
  const bool holding = unfreeze == 0 || epoch_ < unfreeze;
  std::vector<bool> frozen = holding ? freeze_ : std::vector<bool>(freeze_.size(), false);
  model_.set_frozen(frozen);
  const Parameters& p = model_.params();
  SC_CHECK(p.values().dtype() == DType::f32, "train: parameters must be f32");
  const char* base = static_cast<const char*>(p.values().raw());
  std::vector<std::pair<int64_t, int>> by_offset;  // trainable entries in arena order
  for (size_t i = 0; i < p.entries().size(); ++i)
    if (p[int(i)].kind != ParamKind::buffer)
      by_offset.emplace_back(
          (static_cast<const char*>(p[int(i)].value.raw()) - base) / int64_t(sizeof(float)),
          int(i));
  std::sort(by_offset.begin(), by_offset.end());
  segments_.clear();
  for (size_t k = 0; k < by_offset.size(); ++k) {
    const int i = by_offset[k].second;
    const int64_t end = k + 1 < by_offset.size() ? by_offset[k + 1].first : p.values().numel();
    if (frozen[i]) continue;
    UpdateSegment seg{by_offset[k].first, end, p[i].kind == ParamKind::decayed, lr_scales_[i],
                      freeze_[i] && unfreeze > 0 ? int64_t(unfreeze) * steps_per_epoch_ : 0};
    UpdateSegment* last = segments_.empty() ? nullptr : &segments_.back();
    if (last && last->end == seg.begin && last->decayed == seg.decayed &&
        last->lr_scale == seg.lr_scale && last->first_step == seg.first_step)
      last->end = seg.end;
    else
      segments_.push_back(seg);
  }
}

// One optimizer step over every trainable segment. Weights decay; biases and batch-norm
// parameters do not (the usual practice).
void Run::update_weights(double lr) {
  const OptimizerConfig& o = cfg_.train.optimizer;
  const Parameters& p = model_.params();
  for (const UpdateSegment& seg : segments_) {
    const Tensor w = p.values().slice_flat(seg.begin, seg.end);
    const Tensor g = p.grads().slice_flat(seg.begin, seg.end);
    const float rate = static_cast<float>(lr * seg.lr_scale);
    const float decay = seg.decayed ? static_cast<float>(o.weight_decay) : 0.0f;
    if (o.name == Optimizer::adamw) {
      AdamWParams a{rate, float(o.beta1), float(o.beta2), float(o.eps), decay};
      backend_.adamw_update(a, global_step_ + 1 - seg.first_step, w, g,
                            state_[0].slice_flat(seg.begin, seg.end),
                            state_[1].slice_flat(seg.begin, seg.end));
    } else {
      SgdParams sgd{rate, float(o.momentum), decay, o.nesterov, o.decoupled_weight_decay};
      backend_.sgd_update(sgd, w, g, state_[0].slice_flat(seg.begin, seg.end));
    }
  }
}

void Run::check_inputs() const {
  SC_CHECK(!options_.config_yaml.empty(),
           "train: TrainOptions::config_yaml is empty (pass config_to_yaml(config))");
  const int64_t classes = static_cast<int64_t>(data_.class_names.size());
  std::string empty;
  for (const std::string& f : data_.empty_folders)
    empty += (empty.empty() ? " (not counting folders without images: " : ", ") + f + "/";
  SC_CHECK(classes == cfg_.model.classes, cfg_.source_file, ": model.classes is ",
           cfg_.model.classes, " but the data has ", classes, " classes", empty,
           empty.empty() ? "" : ")");
  SC_CHECK(data_.image_size == cfg_.data.image_size, "train: the data holds ", data_.image_size,
           "-pixel images but data.image_size is ", cfg_.data.image_size);
  SC_CHECK(static_cast<int64_t>(split_.train.size()) >= cfg_.train.batch_size, cfg_.source_file,
           ": train.batch_size ", cfg_.train.batch_size, " is larger than the ",
           split_.train.size(), " training images");
  SC_CHECK(!split_.val.empty(), "train: the validation split is empty");
}

void Run::prepare_folder() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  SC_CHECK(!ec, dir_.string(), ": cannot create the run folder (", ec.message(), ")");
  if (options_.resume_dir.empty() && !options_.overwrite)
    SC_CHECK(!fs::exists(dir_ / "last.safetensors"), dir_.string(),
             ": already holds a run; resume it with --resume ", dir_.string(),
             ", pass --overwrite, or choose another output.dir");
  const std::string& yaml = options_.config_yaml;
  write_file_atomic((dir_ / "config.yaml").string(), yaml);
  if (options_.resume_dir.empty()) write_file_atomic((dir_ / "metrics.jsonl").string(), "");
}

std::vector<std::pair<std::string, Tensor>> Run::checkpoint_tensors() const {
  const Parameters& p = model_.params();
  std::vector<std::pair<std::string, Tensor>> out;
  for (const ParamEntry& e : p.entries())
    out.emplace_back(e.name, e.value);
  // Optimizer state lies at the same offsets in its arena as each weight in the weight arena.
  const bool adamw = cfg_.train.optimizer.name == Optimizer::adamw;
  const char* kinds[2] = {adamw ? "exp_avg" : "momentum_buffer", "exp_avg_sq"};
  const char* base = static_cast<const char*>(p.values().raw());
  for (int slot = 0; slot < (adamw ? 2 : 1); ++slot) {
    for (const ParamEntry& e : p.entries()) {
      if (e.kind == ParamKind::buffer) continue;
      const size_t offset = static_cast<const char*>(e.value.raw()) - base;
      out.emplace_back(std::string("optimizer.") + kinds[slot] + "." + e.name,
                       Tensor(static_cast<char*>(state_[slot].raw()) + offset, e.shape, DType::f32,
                              state_[slot].device()));
    }
  }
  return out;
}

void Run::save(const std::string& path) {
  // Weights can overflow while the loss stays finite (a batch-norm variance first): such a
  // checkpoint would not load, so the run stops instead of writing it.
  std::vector<float> host;
  for (const ParamEntry& e : model_.params().entries()) {
    host.resize(e.value.numel());
    backend_.copy(e.value, Tensor(host.data(), e.shape, DType::f32, Device::cpu()));
    const auto bad =
        std::find_if(host.begin(), host.end(), [](float v) { return !std::isfinite(v); });
    if (bad != host.end())
      diverged("'", e.name, "' became ", *bad, " in epoch ", epoch_ + (step_in_epoch_ > 0));
  }
  CheckpointInfo info;
  info.arch = cfg_.model.arch;
  info.config_yaml = options_.config_yaml;
  info.classes = data_.class_names;
  info.state = {epoch_,       step_in_epoch_, global_step_, best_val_accuracy_, cfg_.runtime.seed,
                epoch_stats_, window_};
  save_checkpoint(path, checkpoint_tensors(), info, backend_);
}

void Run::restore(const std::string& path) {
  const SafetensorsFile file(path);
  const CheckpointInfo info = read_checkpoint_info(file);
  const auto tensors = checkpoint_tensors();
  for (const auto& [name, t] : tensors)
    file.read_into(name, t, backend_);  // names the mismatch
  for (const std::string& name : file.names()) {
    const bool known = std::any_of(tensors.begin(), tensors.end(),
                                   [&](const auto& kv) { return kv.first == name; });
    SC_CHECK(known, path, ": tensor '", name, "' in the checkpoint has no place in this model (",
             cfg_.model.arch, ")");
  }
  SC_CHECK(info.classes == data_.class_names, path, ": the checkpoint's classes ",
           json(info.classes).dump(), " differ from the data's ", json(data_.class_names).dump());
  epoch_ = info.state.epoch;
  step_in_epoch_ = info.state.step_in_epoch;
  global_step_ = info.state.global_step;
  best_val_accuracy_ = info.state.best_val_accuracy;
  static_cast<RunningTotals&>(epoch_stats_) = info.state.epoch_totals;
  static_cast<RunningTotals&>(window_) = info.state.window_totals;
  SC_CHECK(info.state.seed == cfg_.runtime.seed, path, ": the run used seed ", info.state.seed,
           " but the config says ", cfg_.runtime.seed);
  // The schedule (and when unfreeze_at_epoch released the backbone) counts steps per epoch.
  SC_CHECK(global_step_ == epoch_ * steps_per_epoch_ + step_in_epoch_, path,
           ": the run was at step ", global_step_, " after ", epoch_, " epochs and ",
           step_in_epoch_, " steps; with ", steps_per_epoch_,
           " steps per epoch now, the training data or the batch size changed since");
}

// Keeps the metrics up to the restored checkpoint; what an interrupted run logged after it is
// replayed.
void Run::trim_metrics() {
  const fs::path metrics = dir_ / "metrics.jsonl";
  std::ifstream in(metrics);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json record = json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("global_step", int64_t(0)) <= global_step_)
      kept += line + "\n";
  }
  in.close();
  write_file_atomic(metrics.string(), kept);
  std::printf("train: resuming %s at epoch %ld, step %ld\n",
              (fs::path(options_.resume_dir) / "last.safetensors").c_str(), long(epoch_ + 1),
              long(step_in_epoch_));
}

void Run::write_metric(const json& record) {
  metrics_->append(record.dump());  // a record is in the file as soon as it is logged
}

void Run::step(const int64_t* indices, int64_t count, bool training, int64_t epoch, double lr,
               EpochStats* stats) {
  const int64_t K = cfg_.model.classes;
  Tensor images, labels;
  batch_.load(data_, indices, count, training, cfg_.runtime.seed, epoch, &images, &labels);

  StepContext ctx{backend_, *arena_, training};
  const Tensor logits = model_.forward(ctx, images);
  Tensor dlogits;
  if (training) dlogits = arena_->take(logits.shape(), DType::f32, "dlogits");
  backend_.softmax_cross_entropy(
      logits, labels, training ? float(cfg_.train.label_smoothing) : 0.0f, loss_, dlogits);
  if (training) {
    model_.backward(ctx, dlogits);
    update_weights(lr);
  }
  backend_.copy(loss_, Tensor(&host_loss_, Shape{1}, DType::f32, Device::cpu()));
  const float* host_logits = batch_.download_logits(logits);
  const float loss = host_loss_;
  arena_->reset();
  if (training && !std::isfinite(loss))
    diverged("the loss became ", loss, " at epoch ", epoch + 1, ", step ", step_in_epoch_ + 1,
             " (learning rate ", lr, ")");
  stats->loss += double(loss) * count;
  stats->seen += count;
  for (int64_t k = 0; k < count; ++k) {
    const float* row = host_logits + k * K;
    stats->correct += (std::max_element(row, row + K) - row) == batch_.host_labels()[k];
  }
}

EpochStats Run::evaluate() {
  EpochStats stats;
  const int64_t B = cfg_.train.batch_size, n = static_cast<int64_t>(split_.val.size());
  for (int64_t first = 0; first < n; first += B)
    step(split_.val.data() + first, std::min(B, n - first), false, epoch_, 0.0, &stats);
  if (!std::isfinite(stats.loss))
    diverged("the validation loss became ", stats.mean_loss(), " after epoch ", epoch_);
  return stats;
}

void Run::begin() {
  // Everything a resume checks is checked before the run folder is written to.
  const bool resuming = !options_.resume_dir.empty();
  const fs::path checkpoint = fs::path(options_.resume_dir) / "last.safetensors";
  SC_CHECK(!resuming || fs::exists(checkpoint), options_.resume_dir,
           ": no last.safetensors to resume from (the run stopped before its first checkpoint); "
           "start it again with --overwrite");
  if (resuming)
    restore(checkpoint.string());
  else if (!cfg_.model.init.empty())
    initialise_from_file();
  prepare_folder();
  if (resuming) trim_metrics();
  metrics_ = std::make_unique<LineAppender>((dir_ / "metrics.jsonl").string());
  std::printf(
      "train: %s, %ld parameters, %zu training / %zu validation images of %dx%d, "
      "%ld steps per epoch, %s backend\n",
      cfg_.model.arch.c_str(), long(model_.params().trainable_count()), split_.train.size(),
      split_.val.size(), data_.image_size, data_.image_size, long(steps_per_epoch_),
      backend_.name().c_str());
  int64_t frozen = 0, trainable = 0;
  for (size_t i = 0; i < freeze_.size(); ++i)
    if (model_.params()[int(i)].kind != ParamKind::buffer) {
      ++trainable;
      frozen += freeze_[i];
    }
  const int until = cfg_.train.unfreeze_at_epoch;
  if (frozen > 0 && (until == 0 || epoch_ < until))
    std::printf("train: %ld of %ld trainable tensors frozen (train.freeze)%s\n", long(frozen),
                long(trainable),
                until > 0 ? (" until epoch " + std::to_string(until) + " ends").c_str() : "");
}

// The rest of the current epoch's steps; false when the run was asked to stop part-way.
bool Run::train_epoch() {
  const TrainConfig& t = cfg_.train;
  const int64_t B = t.batch_size;
  // The epoch's order depends only on (seed, epoch).
  std::vector<int64_t> order = split_.train;
  std::mt19937_64 rng(derive_seed(cfg_.runtime.seed, {0xe0u, static_cast<uint64_t>(epoch_)}));
  std::shuffle(order.begin(), order.end(), rng);
  char label[48];
  std::snprintf(label, sizeof label, "epoch %ld/%d", long(epoch_ + 1), t.epochs);
  Progress progress(label, steps_per_epoch_);
  apply_freeze_schedule();
  while (step_in_epoch_ < steps_per_epoch_) {
    const auto start = std::chrono::steady_clock::now();
    const double lr = learning_rate(t, global_step_, steps_per_epoch_);
    step(order.data() + step_in_epoch_ * B, B, true, epoch_, lr, &window_);
    timing_.train_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timing_.trained_images += B;
    ++step_in_epoch_;
    ++global_step_;
    if (global_step_ % t.log_every == 0 || step_in_epoch_ == steps_per_epoch_) {
      log_steps(window_, lr, &progress);
      epoch_stats_.loss += window_.loss;
      epoch_stats_.correct += window_.correct;
      epoch_stats_.seen += window_.seen;
      window_ = EpochStats{};
    }
    const bool interrupted = options_.interrupt && options_.interrupt->load();
    if (interrupted || (options_.stop_at_step > 0 && global_step_ >= options_.stop_at_step)) {
      progress.finish("stopped", step_in_epoch_);
      return false;
    }
  }
  progress.finish("done");
  return true;
}

void Run::log_steps(const EpochStats& window, double lr, Progress* progress) {
  const double ips = timing_.train_seconds > 0 ? timing_.trained_images / timing_.train_seconds : 0;
  write_metric({{"type", "step"},
                {"epoch", epoch_ + 1},
                {"step", step_in_epoch_},
                {"global_step", global_step_},
                {"loss", window.mean_loss()},
                {"accuracy", window.accuracy()},
                {"lr", lr},
                {"images_per_second", ips}});
  char status[128];
  std::snprintf(status, sizeof status, "loss %.4f acc %.1f%% lr %.4g %.0f img/s",
                window.mean_loss(), 100 * window.accuracy(), lr, ips);
  progress->update(step_in_epoch_, status);
}

// After an epoch's steps: validation, the epoch's record and line, and the checkpoints.
// Returns the epoch's seconds, validation included.
double Run::end_epoch(std::chrono::steady_clock::time_point start, int last_epoch,
                      TrainResult* result) {
  const EpochStats stats = epoch_stats_;
  epoch_stats_ = EpochStats{};
  ++epoch_;
  step_in_epoch_ = 0;
  const EpochStats val = evaluate();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool best = val.accuracy() > best_val_accuracy_;
  if (best) best_val_accuracy_ = val.accuracy();
  write_metric({{"type", "epoch"},
                {"epoch", epoch_},
                {"global_step", global_step_},
                {"train_loss", stats.mean_loss()},
                {"train_accuracy", stats.accuracy()},
                {"val_loss", val.mean_loss()},
                {"val_accuracy", val.accuracy()},
                {"lr", learning_rate(cfg_.train, global_step_ - 1, steps_per_epoch_)},
                {"seconds", seconds}});
  std::printf("epoch %ld/%d: train loss %.4f acc %.2f%% | val loss %.4f acc %.2f%%%s\n",
              long(epoch_), cfg_.train.epochs, stats.mean_loss(), 100 * stats.accuracy(),
              val.mean_loss(), 100 * val.accuracy(), best ? " (best)" : "");
  result->train_loss = stats.mean_loss();
  result->val_loss = val.mean_loss();
  result->val_accuracy = val.accuracy();
  if (best) save((dir_ / "best.safetensors").string());
  if (epoch_ % cfg_.output.checkpoint_every == 0 || epoch_ == last_epoch)
    save((dir_ / "last.safetensors").string());
  return seconds;
}

TrainResult Run::train() {
  begin();
  const TrainConfig& t = cfg_.train;
  TrainResult result;
  double epoch_seconds = 0;
  int64_t epochs_run = 0;
  const int last_epoch =
      options_.stop_after_epochs > 0 ? std::min(options_.stop_after_epochs, t.epochs) : t.epochs;
  while (epoch_ < last_epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    if (!train_epoch()) {
      save((dir_ / "last.safetensors").string());
      std::printf(
          "train: stopped at epoch %ld, step %ld; checkpoint %s (continue with --resume %s)\n",
          long(epoch_ + 1), long(step_in_epoch_), (dir_ / "last.safetensors").c_str(),
          dir_.c_str());
      result.stopped_early = true;
      break;
    }
    epoch_seconds += end_epoch(epoch_start, last_epoch, &result);
    ++epochs_run;
  }
  if (!result.stopped_early && epoch_ < t.epochs) {
    result.stopped_early = true;
    std::printf("train: stopped after epoch %ld of %d as asked; continue with --resume %s\n",
                long(epoch_), t.epochs, dir_.c_str());
  }
  result.epochs_done = epoch_;
  result.global_step = global_step_;
  result.best_val_accuracy = best_val_accuracy_;
  result.images_per_second =
      timing_.train_seconds > 0 ? timing_.trained_images / timing_.train_seconds : 0;
  result.seconds_per_epoch = epochs_run ? epoch_seconds / epochs_run : 0;
  return result;
}

}  // namespace

TrainResult train(const RunConfig& config, const Dataset& data, const Split& split,
                  Backend& backend, const TrainOptions& options) {
  Run run(config, data, split, backend, options);
  return run.train();
}

}  // namespace scenecam
