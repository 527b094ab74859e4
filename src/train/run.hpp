// The state of one training run (Run), shared by the loop (trainer.cpp) and the run folder's
// files: checkpoints, metrics, resume (run_files.cpp). Internal to src/train/.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "internal/files.hpp"
#include "internal/progress.hpp"
#include "scenecam/checkpoint.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/trainer.hpp"
#include "train/batch.hpp"
#include "train/resident.hpp"
#include "train/step_graph.hpp"

namespace scenecam::detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

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
  // The optimizer's numbers for this step, one row per segment, sent to step_table_ (before the
  // step's ops); then the updates, which read them there (part of the ops a graph records).
  void write_step_table(double lr);
  void update_weights();
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
  // Runs samples [first, first + count) of `list` (the epoch's training order, or the validation
  // split) through forward (and, when training, backward and an update at learning rate lr),
  // adding its loss and accuracy to the device's `totals`.
  void step(const std::vector<int64_t>& list, int64_t first, int64_t count, bool training,
            double lr, const Tensor& totals);
  // The device's running totals: read (this waits for the device), and set.
  std::array<double, kStepTotalsFields> read_totals(const Tensor& totals);
  void set_totals(const Tensor& totals, const EpochStats& stats);
  // The training totals start from `carried` at the current step; read_window() copies them to
  // window_, and stops the run at the first step whose loss was not finite.
  void start_window(const EpochStats& carried);
  void read_window();
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
  Tensor state_[2];                         // SGD: momentum; AdamW: exp_avg, exp_avg_sq
  std::unique_ptr<BatchInput> batch_;       // the batches staged on the host, or
  std::unique_ptr<ResidentData> resident_;  // made on the device (data.on_device)
  Tensor loss_;
  // step_table_: f32 [entries, kAdamWStepFields] on the device, a row per update segment, sent
  // from one of two staging slots in turn (the other may still be on its way).
  struct StepTableSlot {
    Tensor host;
    uint64_t uploaded = 0;  // Backend::upload_mark of its last copy
  };
  std::unique_ptr<Pool> table_staging_;
  StepTableSlot table_slots_[2];
  int next_table_slot_ = 0;
  Tensor step_table_;
  std::unique_ptr<StepGraph> graph_;  // the training step, recorded (runtime.cuda_graphs)
  Tensor train_totals_, val_totals_;  // f64 [kStepTotalsFields] on the device
  int64_t window_first_step_ = 0;     // step_in_epoch_ when train_totals_ were last set
  int64_t steps_per_epoch_ = 0;
  std::unique_ptr<LineAppender> metrics_;  // metrics.jsonl, open for the whole run
  std::vector<bool> freeze_;       // train.freeze, one flag per parameter entry
  std::vector<double> lr_scales_;  // train.optimizer.lr_scale, likewise
  std::vector<bool> frozen_now_;   // the freeze the current segments_ were made for
  std::vector<UpdateSegment> segments_;  // for the current epoch's freeze

  // Training state (what a checkpoint records).
  int64_t epoch_ = 0;          // completed epochs
  int64_t step_in_epoch_ = 0;  // steps done in the current epoch
  int64_t global_step_ = 0;
  double best_val_accuracy_ = -1;
  EpochStats epoch_stats_;  // the current epoch's training steps so far
  EpochStats window_;       // the steps since the last step record, as last read

  struct Timing {
    double train_seconds = 0;  // in training steps only
    int64_t trained_images = 0;
  } timing_;
};

}  // namespace scenecam::detail
