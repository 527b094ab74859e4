// runtime.cuda_graphs: the device work of a training step (forward, loss, totals, backward,
// optimizer) recorded once as a graph (Backend::record_step) and replayed, one launch per step.
// Internal to src/train/.
#pragma once

#include <functional>
#include <memory>

#include "scenecam/backend.hpp"
#include "scenecam/pool.hpp"

namespace scenecam::detail {

class StepGraph {
 public:
  // wanted: runtime.cuda_graphs. arena: the per-step activation pool the recorded ops point into.
  StepGraph(Backend& backend, Pool& arena, bool wanted);

  // Runs the step's ops: op by op until one such step took no new memory from the arena or the
  // backend's workspace (the first sizes the pools and chooses the convolution algorithms), then
  // recorded once and replayed. A recording is dropped, and the ops run op by op again, when a
  // pool took new memory since (its addresses may have moved) or when drop() is called. A backend
  // that records nothing, or a step it cannot record, runs every step op by op, with one line.
  void run(const std::function<void()>& ops);
  // Forgets the recording: the ops changed (a new freeze), so the next step runs op by op.
  void drop();
  int64_t replays() const { return replays_; }  // steps run from a recording so far

 private:
  static constexpr int64_t kPatience = 20;  // steps op by op before saying they do not settle
  size_t reservations() const;
  void record(const std::function<void()>& ops);

  Backend& backend_;
  Pool& arena_;
  bool wanted_;
  std::unique_ptr<Backend::RecordedStep> recorded_;
  int64_t eager_steps_ = 0;  // run op by op since the last drop
  size_t eager_start_ = 0;   // reservations() when the last of them began
  size_t reserved_at_ = 0;   // reservations() when recorded
  int64_t replays_ = 0;
  bool announced_ = false;  // the first recording was reported
};

}  // namespace scenecam::detail
