// Pool: a stack of leases over one or more reservations. See pool.hpp for the contract.
#include "scenecam/pool.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// AddressSanitizer's manual poisoning, resolved only when the program links the sanitizer's
// runtime (the library itself is built without it).
extern "C" void __asan_poison_memory_region(void const volatile* addr, size_t size)
    __attribute__((weak));
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, size_t size)
    __attribute__((weak));

namespace scenecam {

namespace {
size_t align_up(size_t bytes) {
  return (bytes + kPoolAlignment - 1) / kPoolAlignment * kPoolAlignment;
}

constexpr unsigned char kCanary = 0xFD;

void poison(const void* p, size_t bytes) {
  if (__asan_poison_memory_region) __asan_poison_memory_region(p, bytes);
}
void unpoison(const void* p, size_t bytes) {
  if (__asan_unpoison_memory_region) __asan_unpoison_memory_region(p, bytes);
}
}  // namespace

void* HostAllocator::allocate(size_t bytes) {
  void* ptr = std::aligned_alloc(kPoolAlignment, align_up(bytes));
  if (ptr == nullptr)
    throw OutOfMemory("host allocation of " + std::to_string(bytes) + " bytes failed");
  return ptr;
}

void HostAllocator::deallocate(void* ptr) {
  std::free(ptr);
}

Block& Block::operator=(Block&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = other.pool_;
    data_ = other.data_;
    bytes_ = other.bytes_;
    slot_ = other.slot_;
    generation_ = other.generation_;
    other.pool_ = nullptr;
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void Block::release() {
  if (pool_ != nullptr) pool_->release(*this);
  pool_ = nullptr;
  data_ = nullptr;
  bytes_ = 0;
}

Tensor Block::tensor(const Shape& shape, DType dtype, Layout layout) const {
  size_t need = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  SC_CHECK(need <= bytes_, "block of ", bytes_, " bytes cannot hold ", dtype_name(dtype),
           shape.str(), " (", need, " bytes)");
  SC_CHECK(pool_ != nullptr || need == 0, "tensor view over an empty block");
  return Tensor(data_, shape, dtype, pool_ ? pool_->device() : Device::cpu(), layout);
}

Pool::Pool(std::string name, std::unique_ptr<RawAllocator> allocator, size_t capacity,
           bool growable)
    : name_(std::move(name)), allocator_(std::move(allocator)), growable_(growable) {
  if (capacity > 0) add_chunk(align_up(capacity));
}

Pool::~Pool() {
  for (Chunk& c : chunks_) {
    if (guards_) unpoison(c.base, c.size);
    allocator_->deallocate(c.base);
  }
}

void Pool::add_chunk(size_t bytes) {
  Chunk c;
  c.base = static_cast<char*>(allocator_->allocate(bytes));
  c.size = bytes;
  chunks_.push_back(c);
  ++allocations_;
}

size_t Pool::footprint() const {
  size_t total = 0;
  for (const Chunk& c : chunks_)
    total += c.used;
  return total;
}

Block Pool::allocate(size_t bytes, std::string_view what) {
  const size_t size = align_up((bytes == 0 ? 1 : bytes) + (guards_ ? kGuardBytes : 0));
  if (chunks_.empty() || chunks_.back().size - chunks_.back().used < size) {
    if (!growable_ || bytes > (size_t(1) << 46)) {
      size_t reserved = 0;
      for (const Chunk& c : chunks_)
        reserved += c.size;
      throw OutOfMemory("pool '" + name_ + "' (" + device().str() + ") is out of memory for '" +
                        std::string(what) + "': requested " + std::to_string(bytes) + " bytes, " +
                        std::to_string(live_) + " of " + std::to_string(reserved) +
                        " bytes in use");
    }
    // Grow by at least the size already reserved, so a growing arena needs few chunks.
    size_t reserved = 0;
    for (const Chunk& c : chunks_)
      reserved += c.size;
    add_chunk(std::max(size, align_up(reserved)));
  }
  Chunk& chunk = chunks_.back();
  Lease lease{chunks_.size() - 1, chunk.used, size, true, 0, {}};
  chunk.used += size;
  stack_.push_back(lease);

  live_ += size;
  ++live_blocks_;
  peak_ = std::max(peak_, live_);
  peak_footprint_ = std::max(peak_footprint_, footprint());

  Block block;
  block.pool_ = this;
  block.data_ = chunk.base + lease.offset;
  block.bytes_ = size;
  block.slot_ = stack_.size() - 1;
  block.generation_ = generation_;
  if (guards_) {
    Lease& guarded = stack_.back();
    guarded.requested = bytes;
    const size_t n = std::min(what.size(), sizeof guarded.what - 1);
    std::memcpy(guarded.what, what.data(), n);
    guarded.what[n] = '\0';
    char* data = static_cast<char*>(block.data_);
    unpoison(data, size);  // the bytes may have been another block's guard before
    std::fill(data + bytes, data + size, static_cast<char>(kCanary));
    poison(data + bytes, size - bytes);
    block.bytes_ = bytes;
  }
  return block;
}

void Pool::enable_guards() {
  SC_CHECK(device().is_cpu(), "pool '", name_, "': guard bytes are for host pools");
  SC_CHECK(stack_.empty() && footprint() == 0, "pool '", name_,
           "': enable guards before the first lease");
  guards_ = true;
}

std::string Pool::guard_damage(const Lease& lease) const {
  const char* data = chunks_[lease.chunk].base + lease.offset;
  const size_t tail = lease.bytes - lease.requested;
  unpoison(data + lease.requested, tail);
  size_t damaged = 0;
  for (size_t i = lease.requested; i < lease.bytes; ++i)
    damaged += static_cast<unsigned char>(data[i]) != kCanary;
  poison(data + lease.requested, tail);
  if (damaged == 0) return "";
  return "pool '" + name_ + "': " + std::to_string(damaged) + " of the " + std::to_string(tail) +
         " guard bytes after '" + std::string(lease.what) + "' (" + std::to_string(lease.requested) +
         " bytes) were overwritten: an out-of-bounds write";
}

void Pool::check_guards() const {
  if (!guards_) return;
  for (const Lease& lease : stack_)
    if (lease.live) {
      const std::string damage = guard_damage(lease);
      SC_CHECK(damage.empty(), damage);
    }
}

// A block given back (released, or forgotten by a reset) is checked too; that happens in
// destructors, where nothing can be thrown, so damage stops the process with the message.
void Pool::check_released(const Lease& lease) const {
  if (!guards_) return;
  const std::string damage = guard_damage(lease);
  if (damage.empty()) return;
  std::fprintf(stderr, "scenecam: %s\n", damage.c_str());
  std::abort();
}

Block Pool::allocate_tensor(const Shape& shape, DType dtype, std::string_view what, Tensor* out,
                            Layout layout) {
  Block block = allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype), what);
  *out = block.tensor(shape, dtype, layout);
  return block;
}

Tensor Pool::take(const Shape& shape, DType dtype, std::string_view what, Layout layout) {
  Block block = allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype), what);
  Tensor t = block.tensor(shape, dtype, layout);
  block.pool_ = nullptr;  // the lease stays live until reset()
  return t;
}

void Pool::release(const Block& block) {
  if (block.generation_ != generation_) return;  // leased before a reset: already forgotten
  Lease& lease = stack_[block.slot_];
  if (!lease.live) return;
  check_released(lease);
  lease.live = false;
  live_ -= lease.bytes;
  --live_blocks_;
  while (!stack_.empty() && !stack_.back().live) {
    chunks_[stack_.back().chunk].used = stack_.back().offset;
    stack_.pop_back();
  }
  merge_chunks_if_empty();
}

void Pool::reset() {
  for (const Lease& lease : stack_)
    if (lease.live) check_released(lease);
  ++generation_;
  stack_.clear();
  for (Chunk& c : chunks_)
    c.used = 0;
  live_ = 0;
  live_blocks_ = 0;
  merge_chunks_if_empty();
}

void Pool::merge_chunks_if_empty() {
  if (!stack_.empty() || chunks_.size() <= 1) return;
  for (Chunk& c : chunks_) {
    if (guards_) unpoison(c.base, c.size);
    allocator_->deallocate(c.base);
  }
  chunks_.clear();
  add_chunk(align_up(peak_footprint_));
}

PoolStats Pool::stats() const {
  PoolStats s;
  for (const Chunk& c : chunks_)
    s.reserved += c.size;
  s.live = live_;
  s.peak = peak_;
  s.blocks = live_blocks_;
  s.allocations = allocations_;
  return s;
}

size_t pool_capacity(std::initializer_list<TensorSize> tensors) {
  size_t total = 0;
  for (const TensorSize& t : tensors)
    total += align_up(size_t(std::max<int64_t>(t.shape.numel(), 1)) * dtype_size(t.dtype) +
                      Pool::kGuardBytes);
  return total;
}

std::unique_ptr<Pool> make_host_pool(std::string name, size_t capacity, bool growable) {
  auto pool = std::make_unique<Pool>(std::move(name), std::make_unique<HostAllocator>(), capacity,
                                     growable);
#if defined(SCENECAM_POOL_GUARDS)
  pool->enable_guards();  // debug builds: every host block is followed by checked guard bytes
#endif
  return pool;
}

}  // namespace scenecam
