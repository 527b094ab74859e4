// The vocabulary: shapes, devices, dtypes and tensor views.
#include "scenecam/tensor.hpp"

#include "test_util.hpp"

namespace scenecam {
namespace {

TEST(Shape, NumelRankAndFormatting) {
  const Shape s{3, 4, 7, 5};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.numel(), 420);
  EXPECT_EQ(s.str(), "[3, 4, 7, 5]");
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ(Shape{}.str(), "[]");
  EXPECT_EQ(Shape({2, 0, 3}).numel(), 0);
}

TEST(Shape, EqualityComparesRankAndDims) {
  EXPECT_EQ((Shape{2, 3}), (Shape{2, 3}));
  EXPECT_NE((Shape{2, 3}), (Shape{3, 2}));
  EXPECT_NE((Shape{2, 3}), (Shape{2, 3, 1}));
}

TEST(Shape, RejectsNegativeAndTooManyDims) {
  test::expect_error([] { Shape s{2, -1}; }, {"negative"});
  test::expect_error([] { Shape s{1, 1, 1, 1, 1, 1, 1}; }, {"rank 7"});
}

TEST(Device, ParsesAndPrints) {
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  EXPECT_EQ(Device::parse("cuda:3").index, 3);
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
  EXPECT_NE(Device::cpu(), Device::cuda(0));
  test::expect_error([] { Device::parse("gpu"); }, {"unknown device 'gpu'"});
  test::expect_error([] { Device::parse("cuda:x"); }, {"cuda:x"});
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::u8), 1u);
  EXPECT_STREQ(dtype_name(DType::i32), "i32");
}

TEST(Tensor, TypedAccessChecksDType) {
  float storage[6] = {};
  Tensor t(storage, Shape{2, 3}, DType::f32, Device::cpu());
  EXPECT_EQ(t.data<float>(), storage);
  EXPECT_EQ(t.nbytes(), 24u);
  test::expect_error([&] { t.data<double>(); }, {"f32", "read as f64"});
}

TEST(Tensor, ViewAndSliceShareMemory) {
  float storage[12];
  for (int i = 0; i < 12; ++i)
    storage[i] = float(i);
  Tensor t(storage, Shape{3, 4}, DType::f32, Device::cpu());
  Tensor v = t.view(Shape{2, 6});
  EXPECT_EQ(v.data<float>(), storage);
  EXPECT_EQ(v.shape(), (Shape{2, 6}));
  Tensor s = t.slice_flat(5, 9);
  EXPECT_EQ(s.numel(), 4);
  EXPECT_EQ(s.data<float>()[0], 5.0f);
  test::expect_error([&] { t.view(Shape{5, 2}); }, {"cannot view", "[5, 2]"});
  test::expect_error([&] { t.slice_flat(10, 13); }, {"out of range"});
}

TEST(Tensor, NhwcNeedsFourDimsAndCannotBeReshaped) {
  float storage[24];
  test::expect_error(
      [&] {
        Tensor(storage, Shape{2, 12}, DType::f32, Device::cpu(), Layout::nhwc);
      },
      {"nhwc", "4-D"});
  Tensor t(storage, Shape{1, 2, 3, 4}, DType::f32, Device::cpu(), Layout::nhwc);
  EXPECT_EQ(t.str(), "f32[1, 2, 3, 4] cpu nhwc");
  test::expect_error([&] { t.view(Shape{24}); }, {"layout nhwc"});
}

}  // namespace
}  // namespace scenecam
