#include "train/step_graph.hpp"

#include <cstdio>
#include <string>

#include "scenecam/error.hpp"

namespace scenecam::detail {

StepGraph::StepGraph(Backend& backend, Pool& arena, bool wanted)
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
  if (wanted_ && !recorded_ && eager_steps_ > 0 && now == eager_start_) record(ops);
  if (recorded_) {
    recorded_->replay();
    ++replays_;
    return;
  }
  if (wanted_ && eager_steps_ == kPatience)
    std::printf(
        "train: runtime.cuda_graphs: %ld steps in, each still takes new memory; they run "
        "op by op until one does not\n",
        long(kPatience));
  eager_start_ = now;
  ops();
  ++eager_steps_;
}

// A backend that records nothing, or a step it could not record, leaves every step op by op, with
// one line that says why.
void StepGraph::record(const std::function<void()>& ops) {
  const size_t before = reservations();
  std::string failure;
  try {
    recorded_ = backend_.record_step(ops);
  } catch (const Error& e) {
    failure = e.what();
    recorded_.reset();
  }
  arena_.reset();  // what the recording took, as the end of a step would
  if (recorded_ && reservations() != before) {  // memory moved meanwhile: record another time
    drop();
    return;
  }
  reserved_at_ = reservations();
  if (recorded_) {
    if (!announced_)
      std::printf("train: the training step is recorded once and replayed (runtime.cuda_graphs)\n");
    announced_ = true;
    return;
  }
  if (failure.empty())
    std::printf("train: runtime.cuda_graphs: the %s backend records no steps; they run op by op\n",
                backend_.name().c_str());
  else
    std::printf(
        "train: runtime.cuda_graphs: the step could not be recorded (%s); it runs op by op\n",
        failure.c_str());
  wanted_ = false;
}

}  // namespace scenecam::detail
