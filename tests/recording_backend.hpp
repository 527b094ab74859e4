// A CPU stand-in for CUDA graphs, for tests: record_step keeps each op as a closure over its
// arguments as they were when recorded, instead of running it, and replay() runs them again in
// order. So a step that bakes in something that later changes (a learning rate passed by value)
// replays the stale value here, as it would on a GPU.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "forwarding_backend.hpp"
#include "scenecam/error.hpp"

namespace scenecam::test {

class RecordingBackend final : public bench::ForwardingBackend {
 public:
  explicit RecordingBackend(Backend& inner) : ForwardingBackend(inner) {}

  // Every record_step fails from now on, as a capture the CUDA runtime refused.
  void refuse_recordings() { refuse_ = true; }
  int recordings() const { return recordings_; }
  int64_t replays() const { return replays_; }

  std::unique_ptr<RecordedStep> record_step(const std::function<void()>& ops) override {
    SC_CHECK(!tape_, "record_step: a step is already being recorded");
    SC_CHECK(!refuse_, "record_step: refused (as the test asked)");
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
  // A graph cannot wait for the host, record an event or take new memory while it is being
  // captured, and a transfer to or from the host would wait.
  void synchronize() override {
    refuse_while_recording("synchronize");
    ForwardingBackend::synchronize();
  }
  void wait_uploads(uint64_t mark) override {
    refuse_while_recording("wait_uploads");
    ForwardingBackend::wait_uploads(mark);
  }
  uint64_t upload_mark() override {
    refuse_while_recording("upload_mark");
    return ForwardingBackend::upload_mark();
  }
  void copy_async(const Tensor& src, const Tensor& dst) override {
    refuse_while_recording("copy_async");
    ForwardingBackend::copy_async(src, dst);
  }
  std::unique_ptr<Pool> make_pool(std::string name, size_t capacity, bool growable) override {
    refuse_while_recording("make_pool");
    return ForwardingBackend::make_pool(std::move(name), capacity, growable);
  }
  std::unique_ptr<Pool> make_staging_pool(std::string name, size_t capacity) override {
    refuse_while_recording("make_staging_pool");
    return ForwardingBackend::make_staging_pool(std::move(name), capacity);
  }

 private:
  void refuse_while_recording(const char* call) const {
    SC_CHECK(!tape_, call, ": called while a step is being recorded");
  }

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
  bool refuse_ = false;
  int recordings_ = 0;
  int64_t replays_ = 0;
};

}  // namespace scenecam::test
