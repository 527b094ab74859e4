// Training from a RunConfig: the loop, validation, metrics, checkpoints and resuming.
//
// A run folder (output.dir) holds:
//   config.yaml          the effective config, every value spelled out
//   metrics.jsonl        one JSON record per logged step ("type": "step") and per epoch ("epoch")
//   last.safetensors     weights + optimizer state + training state, written every
//                        output.checkpoint_every epochs, at the end, and on an interrupt
//   best.safetensors     the same, from the epoch with the best validation accuracy
// Checkpoints name tensors as torchvision does ("layer1.0.conv1.weight"); optimizer state is
// stored beside them as "optimizer.<state>.<parameter name>", and the config, the class names
// and the training state (epoch, step, best accuracy, seed) as metadata.
//
// Determinism: the batch order of an epoch and every sample's augmentation are functions of
// (seed, epoch, sample), so a run resumed from a checkpoint continues exactly as the straight run
// would have (bit for bit on the CPU backend with the same thread count).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "scenecam/backend.hpp"
#include "scenecam/dataset.hpp"
#include "scenecam/error.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

struct TrainOptions {
  // The run's config as YAML (config_to_yaml, from the config layer above the engine): written
  // to the run folder's config.yaml and into every checkpoint, from which eval, explain and
  // resume read the run back. Required.
  std::string config_yaml;
  std::string resume_dir;     // continue the run in this folder from its last.safetensors
  bool overwrite = false;     // allow a fresh run into a folder that already holds one
  int stop_after_epochs = 0;  // > 0: stop after this many epochs (the schedule still spans
                              // train.epochs), leaving a checkpoint to resume from
  int64_t stop_at_step = 0;   // > 0: stop after this global step, as an interrupt would
  const std::atomic<bool>* interrupt = nullptr;  // set (e.g. by SIGINT) to stop after this step
};

struct TrainResult {
  int64_t epochs_done = 0;
  int64_t global_step = 0;
  double train_loss = 0;  // mean over the last epoch's steps
  double val_loss = 0;    // after the last completed epoch
  double val_accuracy = 0;
  double best_val_accuracy = 0;
  double images_per_second = 0;  // training steps only, over this invocation
  double seconds_per_epoch = 0;  // training + validation, mean over this invocation
  bool stopped_early = false;    // interrupted or stopped on request, with a checkpoint written
  int64_t replayed_steps = 0;    // training steps replayed from a recording (runtime.cuda_graphs)
};

// The learning rate at a 0-based global step (warm-up and schedule from the config).
double learning_rate(const TrainConfig& train, int64_t step, int64_t steps_per_epoch);

// The loss (training or validation) became NaN or infinite. The message names where and the last
// good checkpoint; the run folder keeps its metrics up to that point, and no checkpoint of the
// diverged weights is written.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

// Trains; throws TrainingDiverged (above), or Error on bad input or an I/O failure.
TrainResult train(const RunConfig& config, const Dataset& data, const Split& split,
                  Backend& backend, const TrainOptions& options);

}  // namespace scenecam
