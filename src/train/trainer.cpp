// The training loop. One Run object (run.hpp) owns everything a run touches, laid out before the
// first step: the model's arenas, the optimizer state arena, the batch buffers and the per-step
// activation arena. A step is: prepare the batch on the host and copy it to the backend (or, with
// the data on the device, make it there), and send the optimizer's numbers for the step (a row
// per update segment) -> forward -> fused softmax cross-entropy -> add the step to the running
// totals on the device -> backward -> optimizer update per segment, reading its row -> reset the
// arena. With runtime.cuda_graphs the part from forward to the updates is recorded once and
// replayed (step_graph.cpp). Nothing in a step waits for the device: the host reads the totals
// every train.log_every steps (and at the end of an epoch, of validation and before a
// checkpoint), and a non-finite loss found there stops the run naming its step. The run folder's
// files are run_files.cpp's.
#include "scenecam/trainer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "internal/random.hpp"
#include "scenecam/finetune.hpp"
#include "train/run.hpp"

namespace scenecam {

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

namespace detail {

Run::Run(const RunConfig& config, const Dataset& data, const Split& split, Backend& backend,
         const TrainOptions& options)
    : cfg_(config),
      data_(data),
      split_(split),
      backend_(backend),
      options_(options),
      dir_(config.output.dir),
      model_(resnet_spec(config.model)) {
  check_inputs();
  const int64_t B = cfg_.train.batch_size;
  steps_per_epoch_ = static_cast<int64_t>(split_.train.size()) / B;

  model_.materialize(backend_, cfg_.runtime.seed);
  const Tensor values = model_.params().values();
  const int slots = cfg_.train.optimizer.name == Optimizer::adamw ? 2 : 1;
  const int64_t entries = static_cast<int64_t>(model_.params().entries().size());
  const TensorSize state{values.shape(), DType::f32}, loss{{1}, DType::f32},
      totals{{kStepTotalsFields}, DType::f64}, table{{entries, kAdamWStepFields}, DType::f32};
  state_pool_ = backend_.make_pool(
      "optimizer state",
      slots == 2 ? pool_capacity({state, state, loss, totals, totals, table})
                 : pool_capacity({state, loss, totals, totals, table}),
      false);
  const char* state_names[2] = {"optimizer state 0", "optimizer state 1"};
  for (int i = 0; i < slots; ++i) {
    state_block_[i] =
        state_pool_->allocate_tensor(values.shape(), DType::f32, state_names[i], &state_[i]);
    backend_.fill(state_[i], 0.0);
  }
  if (ResidentData::chosen(cfg_.data.on_device, backend_, data_, split_, B))
    resident_ = std::make_unique<ResidentData>(backend_, data_, cfg_.data, split_, B);
  else
    batch_ = std::make_unique<BatchInput>(backend_, B, data_.image_size, cfg_.model.classes,
                                          cfg_.data);
  loss_ = state_pool_->take(Shape{1}, DType::f32, "loss");
  train_totals_ = state_pool_->take(Shape{kStepTotalsFields}, DType::f64, "training totals");
  val_totals_ = state_pool_->take(Shape{kStepTotalsFields}, DType::f64, "validation totals");
  step_table_ = state_pool_->take(table.shape, DType::f32, "optimizer steps");
  table_staging_ = backend_.make_staging_pool("optimizer steps", pool_capacity({table, table}));
  for (StepTableSlot& slot : table_slots_)
    slot.host = table_staging_->take(table.shape, DType::f32, "optimizer steps");
  arena_ = backend_.make_pool("activations", 0, /*growable=*/true);
  graph_ = std::make_unique<StepGraph>(backend_, *arena_, cfg_.runtime.cuda_graphs);
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
  if (frozen != frozen_now_ && graph_) graph_->drop();  // the backward and the updates change
  frozen_now_ = frozen;
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

// The numbers of this step's update of every trainable segment, on their way to the device.
// Weights decay; biases and batch-norm parameters do not (the usual practice).
void Run::write_step_table(double lr) {
  const OptimizerConfig& o = cfg_.train.optimizer;
  StepTableSlot& slot = table_slots_[next_table_slot_];
  next_table_slot_ = 1 - next_table_slot_;
  backend_.wait_uploads(slot.uploaded);  // this slot's copy of two steps ago
  float* row = slot.host.data<float>();
  for (const UpdateSegment& seg : segments_) {
    const float rate = static_cast<float>(lr * seg.lr_scale);
    const float decay = seg.decayed ? static_cast<float>(o.weight_decay) : 0.0f;
    if (o.name == Optimizer::adamw)
      adamw_step_to_fields(adamw_step({rate, float(o.beta1), float(o.beta2), float(o.eps), decay},
                                      global_step_ + 1 - seg.first_step),
                           row);
    else
      sgd_step_to_fields(
          sgd_step({rate, float(o.momentum), decay, o.nesterov, o.decoupled_weight_decay}), row);
    row += kAdamWStepFields;
  }
  const auto rows = int64_t(segments_.size());
  backend_.copy_async(slot.host.slice_flat(0, rows * kAdamWStepFields),
                      step_table_.slice_flat(0, rows * kAdamWStepFields));
  slot.uploaded = backend_.upload_mark();
}

// One optimizer step over every trainable segment, with the numbers in step_table_.
void Run::update_weights() {
  const Parameters& p = model_.params();
  for (size_t k = 0; k < segments_.size(); ++k) {
    const UpdateSegment& seg = segments_[k];
    const Tensor w = p.values().slice_flat(seg.begin, seg.end);
    const Tensor g = p.grads().slice_flat(seg.begin, seg.end);
    const int64_t row = int64_t(k) * kAdamWStepFields;
    if (cfg_.train.optimizer.name == Optimizer::adamw)
      backend_.adamw_update_from(step_table_.slice_flat(row, row + kAdamWStepFields), w, g,
                                 state_[0].slice_flat(seg.begin, seg.end),
                                 state_[1].slice_flat(seg.begin, seg.end));
    else
      backend_.sgd_update_from(step_table_.slice_flat(row, row + kSgdStepFields), w, g,
                               state_[0].slice_flat(seg.begin, seg.end));
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

void Run::step(const std::vector<int64_t>& list, int64_t first, int64_t count, bool training,
               double lr, const Tensor& totals) {
  Tensor images, labels;
  if (resident_)
    resident_->load(training, first, count, augment_epoch_seed(cfg_.runtime.seed, epoch_), &images,
                    &labels);
  else
    batch_->load(data_, list.data() + first, count, training, cfg_.runtime.seed, epoch_, &images,
                 &labels);

  if (training) write_step_table(lr);
  auto ops = [&] {
    StepContext ctx{backend_, *arena_, training};
    const Tensor logits = model_.forward(ctx, images);
    Tensor dlogits;
    if (training) dlogits = arena_->take(logits.shape(), DType::f32, "dlogits");
    backend_.softmax_cross_entropy(
        logits, labels, training ? float(cfg_.train.label_smoothing) : 0.0f, loss_, dlogits);
    backend_.step_totals_acc(logits, labels, loss_, totals);
    if (training) {
      model_.backward(ctx, dlogits);
      update_weights();
    }
  };
  if (training)
    graph_->run(ops);
  else
    ops();
  arena_->reset();
}

std::array<double, kStepTotalsFields> Run::read_totals(const Tensor& totals) {
  std::array<double, kStepTotalsFields> host{};
  backend_.copy(totals, Tensor(host.data(), totals.shape(), DType::f64, Device::cpu()));
  return host;
}

void Run::set_totals(const Tensor& totals, const EpochStats& stats) {
  std::array<double, kStepTotalsFields> host{};
  host[kTotalLoss] = stats.loss;
  host[kTotalCorrect] = double(stats.correct);
  host[kTotalSeen] = double(stats.seen);
  backend_.copy(Tensor(host.data(), totals.shape(), DType::f64, Device::cpu()), totals);
}

void Run::start_window(const EpochStats& carried) {
  set_totals(train_totals_, carried);
  window_first_step_ = step_in_epoch_;
}

void Run::read_window() {
  const auto t = read_totals(train_totals_);
  if (t[kFirstBadStep] > 0) {
    const int64_t in_epoch = window_first_step_ + int64_t(t[kFirstBadStep]);  // 1-based
    const int64_t global = global_step_ - step_in_epoch_ + in_epoch - 1;
    diverged("the loss became ", t[kFirstBadLoss], " at epoch ", epoch_ + 1, ", step ", in_epoch,
             " (learning rate ", learning_rate(cfg_.train, global, steps_per_epoch_), ")");
  }
  window_.loss = t[kTotalLoss];
  window_.correct = int64_t(t[kTotalCorrect]);
  window_.seen = int64_t(t[kTotalSeen]);
}

EpochStats Run::evaluate() {
  const int64_t B = cfg_.train.batch_size, n = static_cast<int64_t>(split_.val.size());
  set_totals(val_totals_, EpochStats{});
  for (int64_t first = 0; first < n; first += B)
    step(split_.val, first, std::min(B, n - first), false, 0.0, val_totals_);
  const auto t = read_totals(val_totals_);
  EpochStats stats;
  stats.loss = t[kTotalLoss];
  stats.correct = int64_t(t[kTotalCorrect]);
  stats.seen = int64_t(t[kTotalSeen]);
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
  if (resident_)
    std::printf("train: the images are kept on the %s device (%.1f MB; data.on_device: %s)\n",
                backend_.name().c_str(),
                ResidentData::bytes(data_, split_, cfg_.train.batch_size) / 1e6,
                name_of(cfg_.data.on_device));
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
  if (resident_) resident_->set_train_order(order);
  start_window(window_);  // a resumed run's window continues where it stopped
  while (step_in_epoch_ < steps_per_epoch_) {
    const auto start = std::chrono::steady_clock::now();
    const double lr = learning_rate(t, global_step_, steps_per_epoch_);
    step(order, step_in_epoch_ * B, B, true, lr, train_totals_);
    ++step_in_epoch_;
    ++global_step_;
    const bool log = global_step_ % t.log_every == 0 || step_in_epoch_ == steps_per_epoch_;
    const bool interrupted = options_.interrupt && options_.interrupt->load();
    const bool stop =
        interrupted || (options_.stop_at_step > 0 && global_step_ >= options_.stop_at_step);
    if (log || stop) read_window();  // waits for the device: the time it waited is step time
    timing_.train_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timing_.trained_images += B;
    if (log) {
      log_steps(window_, lr, &progress);
      epoch_stats_.loss += window_.loss;
      epoch_stats_.correct += window_.correct;
      epoch_stats_.seen += window_.seen;
      window_ = EpochStats{};
      start_window(window_);
    }
    if (stop) {
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
  result.replayed_steps = graph_->replays();
  result.best_val_accuracy = best_val_accuracy_;
  result.images_per_second =
      timing_.train_seconds > 0 ? timing_.trained_images / timing_.train_seconds : 0;
  result.seconds_per_epoch = epochs_run ? epoch_seconds / epochs_run : 0;
  return result;
}

}  // namespace detail

TrainResult train(const RunConfig& config, const Dataset& data, const Split& split,
                  Backend& backend, const TrainOptions& options) {
  detail::Run run(config, data, split, backend, options);
  return run.train();
}

}  // namespace scenecam
