// Memory pools: every byte the engine computes on comes from a Pool.
//
// A Pool hands out 256-byte-aligned blocks from large reservations that it makes through a
// RawAllocator (malloc on the host; cudaMalloc on a GPU, in cuda/). Blocks are leased through
// move-only RAII handles. Allocation is a bump of the top of a stack:
//   - releasing the top block pops it (and any released blocks under it), so scratch memory taken
//     and given back inside one op costs nothing;
//   - releasing a block below the top only marks it dead; its bytes return on a later pop or reset;
//   - reset() forgets every block at once (the per-step activation arena). Handles that outlive a
//     reset become inert: their destructors do nothing.
// A pool is either fixed (a full pool throws OutOfMemory naming the tensor, the request and the
// pool's size) or growable: when full it reserves another chunk, and the next time it is empty
// (after a reset, or when its last block is released) it merges its chunks into one reservation
// as large as the peak footprint. The first training step therefore sizes an arena, and later
// identical steps never reach the underlying allocator: stats().allocations stops moving.
// Pools are not thread-safe: one thread allocates; parallel loops use memory leased beforehand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scenecam/tensor.hpp"

namespace scenecam {

constexpr size_t kPoolAlignment = 256;

// The source of a pool's reservations.
class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // kPoolAlignment-aligned; throws on failure
  virtual void deallocate(void* ptr) = 0;
  virtual Device device() const = 0;
};

// Aligned host memory from the C library.
class HostAllocator final : public RawAllocator {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr) override;
  Device device() const override { return Device::cpu(); }
};

struct PoolStats {
  size_t reserved = 0;     // bytes held from the underlying allocator now
  size_t live = 0;         // bytes in blocks that are leased now
  size_t peak = 0;         // most live bytes ever
  size_t blocks = 0;       // blocks leased now
  size_t allocations = 0;  // calls to the underlying allocator so far
};

class Pool;

// A lease of one block; gives the block back when destroyed. Move-only.
class Block {
 public:
  Block() = default;
  Block(Block&& other) noexcept { *this = std::move(other); }
  Block& operator=(Block&& other) noexcept;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block() { release(); }

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool valid() const { return pool_ != nullptr; }
  // Gives the block back now (no-op for an empty or inert handle).
  void release();

  // A tensor view over the start of the block; throws if the block is too small.
  Tensor tensor(const Shape& shape, DType dtype, Layout layout = Layout::rowmajor) const;

 private:
  friend class Pool;
  Pool* pool_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t slot_ = 0;          // index in the pool's stack of leases
  uint64_t generation_ = 0;  // the pool's reset count when leased
};

class Pool {
 public:
  // capacity: bytes reserved up front (0 = reserve on first use).
  Pool(std::string name, std::unique_ptr<RawAllocator> allocator, size_t capacity, bool growable);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Leases a block of at least `bytes` bytes. `what` names the tensor for error messages.
  Block allocate(size_t bytes, std::string_view what);
  // Leases a block and returns it with a tensor view of the given shape over it.
  Block allocate_tensor(const Shape& shape, DType dtype, std::string_view what, Tensor* out,
                        Layout layout = Layout::rowmajor);
  // A tensor leased until the next reset(), with no handle: the way a per-step arena hands out
  // activations that live for the whole step.
  Tensor take(const Shape& shape, DType dtype, std::string_view what,
              Layout layout = Layout::rowmajor);
  // Forgets every lease; outstanding handles become inert.
  void reset();

  // A debugging aid for host pools (on in debug builds, SCENECAM_POOL_GUARDS; the emulated kernel
  // tests use it too): from now on every block is followed by kGuardBytes of canary bytes, which
  // check_guards() verifies, naming the tensor an out-of-bounds write went past, and which are
  // checked again when the block is given back (released or reset), where damage stops the
  // process with that message. Under AddressSanitizer the guard bytes are also poisoned, so an
  // out-of-bounds read stops the process with a report. Must be set before the first lease.
  static constexpr size_t kGuardBytes = 256;
  void enable_guards();
  // Throws Error when a live block's guard bytes were overwritten.
  void check_guards() const;

  PoolStats stats() const;
  Device device() const { return allocator_->device(); }
  const std::string& name() const { return name_; }
  bool growable() const { return growable_; }

 private:
  friend class Block;
  struct Chunk {
    char* base = nullptr;
    size_t size = 0;
    size_t used = 0;
  };
  struct Lease {
    size_t chunk = 0;
    size_t offset = 0;
    size_t bytes = 0;
    bool live = false;
    size_t requested = 0;  // with guards: the bytes asked for; the guard follows them
    // With guards: the tensor's name (cut to fit), for check_guards(); an array, so that a
    // lease allocates nothing even in a debug build.
    char what[48] = {};
  };

  void release(const Block& block);
  std::string guard_damage(const Lease& lease) const;  // "" when the guard is intact
  void check_released(const Lease& lease) const;
  void add_chunk(size_t bytes);
  void merge_chunks_if_empty();
  size_t footprint() const;

  std::string name_;
  std::unique_ptr<RawAllocator> allocator_;
  bool growable_;
  std::vector<Chunk> chunks_;
  std::vector<Lease> stack_;
  uint64_t generation_ = 0;
  size_t live_ = 0;
  size_t peak_ = 0;
  size_t peak_footprint_ = 0;
  size_t live_blocks_ = 0;
  size_t allocations_ = 0;
  bool guards_ = false;
};

// A host pool: malloc-backed.
std::unique_ptr<Pool> make_host_pool(std::string name, size_t capacity, bool growable);

// The capacity a fixed pool needs to lease these tensors, in any order: each one's bytes rounded
// up to the pool's alignment, with room for guard bytes (so a pool with guards fits them too).
struct TensorSize {
  Shape shape;
  DType dtype;
};
size_t pool_capacity(std::initializer_list<TensorSize> tensors);

}  // namespace scenecam
