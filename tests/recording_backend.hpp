// A CPU stand-in for CUDA graphs, for tests: record_step keeps each op as a closure over its
// arguments as they were when recorded, instead of running it, and replay() runs them again in
// order. So a step that bakes in something that later changes (a learning rate passed by value)
// replays the stale value here, as it would on a GPU.
#pragma once

#include <memory>
#include <vector>

#include "forwarding_backend.hpp"
#include "scenecam/error.hpp"

namespace scenecam::test {

class RecordingBackend final : public bench::ForwardingBackend {
 public:
  explicit RecordingBackend(Backend& inner) : ForwardingBackend(inner) {}

  int recordings() const { return recordings_; }
  int64_t replays() const { return replays_; }

  std::unique_ptr<RecordedStep> record_step(const std::function<void()>& ops) override {
    SC_CHECK(!tape_, "record_step: a step is already being recorded");
    auto step = std::make_unique<Tape>(*this);
    tape_ = &step->ops;
    try {
      ops();
    } catch (...) {
      tape_ = nullptr;
      throw;
    }
    tape_ = nullptr;
    ++recordings_;
    return step;
  }
  // A graph cannot wait for the host while it is being captured.
  void synchronize() override {
    SC_CHECK(!tape_, "synchronize: called while a step is being recorded");
    ForwardingBackend::synchronize();
  }
  void wait_uploads(uint64_t mark) override {
    SC_CHECK(!tape_, "wait_uploads: called while a step is being recorded");
    ForwardingBackend::wait_uploads(mark);
  }

 private:
  struct Tape final : RecordedStep {
    explicit Tape(RecordingBackend& backend) : be(backend) {}
    void replay() override {
      for (const auto& op : ops)
        op();
      ++be.replays_;
    }
    RecordingBackend& be;
    std::vector<std::function<void()>> ops;
  };

  void forward_op(bench::OpKind, std::function<void()> op) override {
    if (tape_)
      tape_->push_back(std::move(op));
    else
      op();
  }

  std::vector<std::function<void()>>* tape_ = nullptr;
  int recordings_ = 0;
  int64_t replays_ = 0;
};

}  // namespace scenecam::test
