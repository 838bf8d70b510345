#include <cmath>
#include <limits>

#include "common/fl/bundle_codec.h"
#include "common/fl/fedavg.h"
#include "common/fl/tensor_bundle.h"
#include "fedlog/v1/model.pb.h"
#include "gtest/gtest.h"

namespace fedlog::fl {
namespace {

TensorBundle Make(float a, float b) {
  TensorBundle t;
  t.tensors.push_back({"w", {2, 2}, {a, a, a, a}});
  t.tensors.push_back({"b", {2}, {b, -b}});
  return t;
}

TEST(BundleCodecTest, RoundTripIsBitExact) {
  TensorBundle in = Make(0.1f, -3.25f);
  in.tensors[0].values[3] = std::numeric_limits<float>::denorm_min();
  auto bytes = EncodeBundle(in);
  ASSERT_TRUE(bytes.ok());
  auto out = DecodeBundle(*bytes);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->tensors.size(), 2u);
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    EXPECT_EQ(out->tensors[i].name, in.tensors[i].name);
    EXPECT_EQ(out->tensors[i].shape, in.tensors[i].shape);
    EXPECT_EQ(0, std::memcmp(out->tensors[i].values.data(), in.tensors[i].values.data(),
                             in.tensors[i].values.size() * sizeof(float)));
  }
}

TEST(BundleCodecTest, RejectsGarbageAndInconsistentTensors) {
  EXPECT_FALSE(DecodeBundle("\xff\xff\xff not a proto").ok());
  v1::TensorBundle p;
  v1::Tensor* t = p.add_tensors();
  t->set_name("x");
  t->set_dtype(v1::DTYPE_FLOAT32);
  t->add_shape(3);
  t->set_data(std::string(8, '\0'));  // 2 floats for a shape of 3
  auto r = DecodeBundle(p.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not fit"), std::string::npos);
  t->set_data(std::string(12, '\0'));
  t->add_shape(-1);
  EXPECT_FALSE(DecodeBundle(p.SerializeAsString()).ok());
}

TEST(BundleCodecTest, WidensInt8AndFloat16) {
  v1::TensorBundle p;
  v1::Tensor* q = p.add_tensors();
  q->set_name("q");
  q->set_dtype(v1::DTYPE_INT8);
  q->add_shape(2);
  q->set_data(std::string("\x02\xfe", 2));
  q->set_scale(0.5f);
  v1::Tensor* h = p.add_tensors();
  h->set_name("h");
  h->set_dtype(v1::DTYPE_FLOAT16);
  h->add_shape(2);
  h->set_data(std::string("\x00\x3c\x00\xc0", 4));  // 1.0, -2.0
  auto out = DecodeBundle(p.SerializeAsString());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ(out->tensors[0].values[0], 1.0f);
  EXPECT_FLOAT_EQ(out->tensors[0].values[1], -1.0f);
  EXPECT_FLOAT_EQ(out->tensors[1].values[0], 1.0f);
  EXPECT_FLOAT_EQ(out->tensors[1].values[1], -2.0f);
}

TEST(FedAvgTest, WeightedMeanMatchesHandComputation) {
  TensorBundle layout = Make(0, 0);
  WeightedAverager avg(layout);
  ASSERT_TRUE(avg.Add(Make(1.0f, 2.0f), 100).ok());
  ASSERT_TRUE(avg.Add(Make(4.0f, -1.0f), 300).ok());
  auto mean = avg.Mean();
  ASSERT_TRUE(mean.ok());
  // w: (1*100 + 4*300) / 400 = 3.25; b[0]: (2*100 - 1*300) / 400 = -0.25
  EXPECT_FLOAT_EQ(mean->tensors[0].values[2], 3.25f);
  EXPECT_FLOAT_EQ(mean->tensors[1].values[0], -0.25f);
  EXPECT_FLOAT_EQ(mean->tensors[1].values[1], 0.25f);
  EXPECT_EQ(avg.count(), 2);
  EXPECT_DOUBLE_EQ(avg.total_weight(), 400);
}

TEST(FedAvgTest, RefusesBadWeightsLayoutsAndEmptyMean) {
  TensorBundle layout = Make(0, 0);
  WeightedAverager avg(layout);
  EXPECT_FALSE(avg.Mean().ok());
  EXPECT_FALSE(avg.Add(Make(1, 1), 0).ok());
  EXPECT_FALSE(avg.Add(Make(1, 1), std::nan("")).ok());
  TensorBundle wrong = Make(1, 1);
  wrong.tensors[1].name = "other";
  EXPECT_FALSE(avg.Add(wrong, 1).ok());
  EXPECT_EQ(avg.count(), 0);
}

TEST(CheckUpdateTest, NamesShapesFiniteAndNorm) {
  TensorBundle global = Make(0, 0);
  EXPECT_TRUE(CheckUpdate(global, Make(0.1f, 0.1f)).ok());
  TensorBundle nan = Make(0, 0);
  nan.tensors[0].values[1] = std::nanf("");
  EXPECT_NE(CheckUpdate(global, nan).message().find("non-finite"), std::string::npos);
  TensorBundle shape = Make(0, 0);
  shape.tensors[0].shape = {4, 1};
  EXPECT_NE(CheckUpdate(global, shape).message().find("shape"), std::string::npos);
  TensorBundle big = Make(100, 100);
  EXPECT_FALSE(CheckUpdate(global, big, {10.0}).ok());
  EXPECT_TRUE(CheckUpdate(global, big, {1000.0}).ok());
}

TEST(TensorBundleTest, AddScaledAndSubtract) {
  auto d = Subtract(Make(3, 1), Make(1, 1));
  ASSERT_TRUE(d.ok());
  EXPECT_FLOAT_EQ(d->tensors[0].values[0], 2);
  EXPECT_FLOAT_EQ(d->tensors[1].values[0], 0);
  auto s = AddScaled(Make(1, 1), *d, 0.5);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ(s->tensors[0].values[0], 2);
}

}  // namespace
}  // namespace fedlog::fl
