#include "scenecam/interrupt.hpp"

namespace scenecam {

std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  static_assert(std::atomic<bool>::is_always_lock_free);
  return flag;
}

void throw_interrupted(const std::string& what) {
  throw Interrupted(what + ": interrupted");
}

}  // namespace scenecam
