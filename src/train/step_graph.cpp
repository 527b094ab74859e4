#include "train/step_graph.hpp"

#include <cstdio>

namespace scenecam::detail {

StepGraph::StepGraph(Backend& backend, const Pool& arena, bool wanted)
    : backend_(backend), arena_(arena), wanted_(wanted) {}

size_t StepGraph::reservations() const {
  return arena_.stats().allocations + backend_.workspace_stats().allocations;
}

void StepGraph::drop() {
  recorded_.reset();
  eager_steps_ = 0;
}

void StepGraph::run(const std::function<void()>& ops) {
  const size_t now = reservations();
  if (recorded_ && now != reserved_at_) drop();
  // Recorded only once a step ran op by op and took no new memory: the pools have settled, and
  // every convolution of the step has its algorithm.
  if (wanted_ && !recorded_ && eager_steps_ > 0 && now == eager_start_) {
    recorded_ = backend_.record_step(ops);
    if (!recorded_) {
      std::printf(
          "train: runtime.cuda_graphs: the %s backend records no steps; they run op by op\n",
          backend_.name().c_str());
      wanted_ = false;
    }
    reserved_at_ = reservations();
    if (recorded_ && !announced_)
      std::printf("train: the training step is recorded once and replayed (runtime.cuda_graphs)\n");
    announced_ = announced_ || recorded_;
  }
  if (recorded_) {
    recorded_->replay();
    ++replays_;
    return;
  }
  eager_start_ = now;
  ops();
  ++eager_steps_;
}

}  // namespace scenecam::detail
