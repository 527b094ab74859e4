// The process's interrupt request (Ctrl-C). The tools' SIGINT handler sets it; every long loop
// (decoding, training, evaluation, explanation) reads it and stops at its next item. Training
// stops with a checkpoint (TrainOptions::interrupt); the others throw Interrupted.
#pragma once

#include <atomic>
#include <string>

#include "scenecam/error.hpp"

namespace scenecam {

// Lock-free, so a signal handler may set it.
std::atomic<bool>& interrupt_flag();

class Interrupted : public Error {
 public:
  using Error::Error;
};

inline bool interrupt_requested() {
  return interrupt_flag().load(std::memory_order_relaxed);
}

// Throws Interrupted("<what>: interrupted"); loops call it when interrupt_requested(), so the
// message is built only then.
[[noreturn]] void throw_interrupted(const std::string& what);

}  // namespace scenecam
