// The scores of COAT's chord attention (equation 2, split form) and their gradient, fused.
//
//   scores[b, l] = sum_a h[a] * ReLU(user[b, a] + chords[ids[b, l], a] + positions[l, a])
//
// The split form in TensorFlow writes the B x L x A pre-activations to memory several times
// (the gather, the add, the ReLU, its mask and the reductions of the backward pass). Here they
// are computed on the fly, in one pass forward and one pass backward, and never stored.
//
// Both kernels shard the batch over TensorFlow's intra-op thread pool. The backward kernel
// splits the batch into one block per thread; each block accumulates its own gradient of the
// chord and position tables and of h, and the blocks are summed at the end in a fixed order,
// so there are no atomics on the hot path and the result does not depend on the scheduling.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace coat {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("CoatChordScores")
    .Input("user_terms: float")      // [B, A]
    .Input("chord_ids: int32")       // [B, L]
    .Input("chord_table: float")     // [V, A]
    .Input("position_table: float")  // [L, A], the bias included
    .Input("score_vector: float")    // [A]
    .Output("scores: float")         // [B, L]
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle user, ids, chords, positions, h;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &user));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &ids));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &chords));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &positions));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 1, &h));
      DimensionHandle batch, length, size;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(user, 0), c->Dim(ids, 0), &batch));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(ids, 1), c->Dim(positions, 0), &length));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(user, 1), c->Dim(chords, 1), &size));
      TF_RETURN_IF_ERROR(c->Merge(size, c->Dim(positions, 1), &size));
      TF_RETURN_IF_ERROR(c->Merge(size, c->Dim(h, 0), &size));
      c->set_output(0, c->Matrix(batch, length));
      return Status();
    });

REGISTER_OP("CoatChordScoresGrad")
    .Input("grad: float")            // [B, L], the gradient of the scores
    .Input("user_terms: float")      // [B, A]
    .Input("chord_ids: int32")       // [B, L]
    .Input("chord_table: float")     // [V, A]
    .Input("position_table: float")  // [L, A]
    .Input("score_vector: float")    // [A]
    .Output("user_grad: float")      // [B, A]
    .Output("chord_grad: float")     // [V, A]
    .Output("position_grad: float")  // [L, A]
    .Output("score_vector_grad: float")  // [A]
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      c->set_output(1, c->input(3));
      c->set_output(2, c->input(4));
      c->set_output(3, c->input(5));
      return Status();
    });

// The shapes of the five inputs, checked against each other.
struct Shapes {
  int64_t batch = 0, length = 0, vocabulary = 0, size = 0;
};

// Checks the inputs starting at `first` (user terms, chord ids, tables, h); sets `shapes`.
// Sets the context's status to an error when something does not fit.
void CheckInputs(OpKernelContext* ctx, int first, Shapes* shapes) {
  const Tensor& user = ctx->input(first);
  const Tensor& ids = ctx->input(first + 1);
  const Tensor& chords = ctx->input(first + 2);
  const Tensor& positions = ctx->input(first + 3);
  const Tensor& h = ctx->input(first + 4);
  OP_REQUIRES(ctx, user.dims() == 2 && ids.dims() == 2 && chords.dims() == 2 &&
                       positions.dims() == 2 && h.dims() == 1,
              tensorflow::errors::InvalidArgument(
                  "CoatChordScores: expected ranks 2, 2, 2, 2, 1, got ", user.dims(), ", ",
                  ids.dims(), ", ", chords.dims(), ", ", positions.dims(), ", ", h.dims()));
  shapes->batch = user.dim_size(0);
  shapes->size = user.dim_size(1);
  shapes->length = ids.dim_size(1);
  shapes->vocabulary = chords.dim_size(0);
  OP_REQUIRES(ctx, ids.dim_size(0) == shapes->batch,
              tensorflow::errors::InvalidArgument("CoatChordScores: user terms have ",
                                                  shapes->batch, " rows, chord ids ",
                                                  ids.dim_size(0)));
  OP_REQUIRES(ctx, positions.dim_size(0) == shapes->length,
              tensorflow::errors::InvalidArgument("CoatChordScores: chord ids have ",
                                                  shapes->length, " positions, the table ",
                                                  positions.dim_size(0)));
  OP_REQUIRES(ctx,
              chords.dim_size(1) == shapes->size && positions.dim_size(1) == shapes->size &&
                  h.dim_size(0) == shapes->size,
              tensorflow::errors::InvalidArgument(
                  "CoatChordScores: attention sizes differ: ", shapes->size, ", ",
                  chords.dim_size(1), ", ", positions.dim_size(1), ", ", h.dim_size(0)));
  const int32_t* id = ids.flat<int32_t>().data();
  const int64_t count = ids.NumElements();
  for (int64_t i = 0; i < count; ++i) {
    OP_REQUIRES(ctx, id[i] >= 0 && id[i] < shapes->vocabulary,
                tensorflow::errors::InvalidArgument("CoatChordScores: chord id ", id[i],
                                                    " is not in [0, ", shapes->vocabulary, ")"));
  }
}

// sum_a h[a] * ReLU(u[a] + c[a] + p[a]).
inline float Score(const float* u, const float* c, const float* p, const float* h, int64_t n) {
  float total = 0.0f;
#pragma omp simd reduction(+ : total)
  for (int64_t a = 0; a < n; ++a) {
    const float z = u[a] + c[a] + p[a];
    total += h[a] * (z > 0.0f ? z : 0.0f);
  }
  return total;
}

class ChordScoresOp : public OpKernel {
 public:
  explicit ChordScoresOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    Shapes s;
    CheckInputs(ctx, 0, &s);
    if (!ctx->status().ok()) return;
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({s.batch, s.length}), &out));
    const float* user = ctx->input(0).flat<float>().data();
    const int32_t* ids = ctx->input(1).flat<int32_t>().data();
    const float* chords = ctx->input(2).flat<float>().data();
    const float* positions = ctx->input(3).flat<float>().data();
    const float* h = ctx->input(4).flat<float>().data();
    float* scores = out->flat<float>().data();
    const int64_t n = s.size, length = s.length;
    auto rows = [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const float* u = user + b * n;
        for (int64_t l = 0; l < length; ++l) {
          scores[b * length + l] = Score(u, chords + ids[b * length + l] * n, positions + l * n,
                                         h, n);
        }
      }
    };
    const auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(threads->num_threads, threads->workers, s.batch, 4 * length * n + 1, rows);
  }
};

class ChordScoresGradOp : public OpKernel {
 public:
  explicit ChordScoresGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    Shapes s;
    CheckInputs(ctx, 1, &s);
    if (!ctx->status().ok()) return;
    const Tensor& grad_tensor = ctx->input(0);
    OP_REQUIRES(ctx,
                grad_tensor.dims() == 2 && grad_tensor.dim_size(0) == s.batch &&
                    grad_tensor.dim_size(1) == s.length,
                tensorflow::errors::InvalidArgument("CoatChordScoresGrad: the gradient has shape ",
                                                    grad_tensor.shape().DebugString()));
    const int64_t n = s.size, length = s.length, vocabulary = s.vocabulary;
    Tensor *user_grad = nullptr, *chord_grad = nullptr, *position_grad = nullptr, *h_grad = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({s.batch, n}), &user_grad));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({vocabulary, n}), &chord_grad));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({length, n}), &position_grad));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({n}), &h_grad));

    const auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
    const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(threads->num_threads, s.batch));
    // One accumulator per block: [V, A] chord rows, [L, A] positions, [A] for h.
    const int64_t stride = (vocabulary + length + 1) * n;
    Tensor partial;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({blocks, stride}),
                                           &partial));
    float* acc = partial.flat<float>().data();
    std::fill(acc, acc + blocks * stride, 0.0f);

    const float* grad = grad_tensor.flat<float>().data();
    const float* user = ctx->input(1).flat<float>().data();
    const int32_t* ids = ctx->input(2).flat<int32_t>().data();
    const float* chords = ctx->input(3).flat<float>().data();
    const float* positions = ctx->input(4).flat<float>().data();
    const float* h = ctx->input(5).flat<float>().data();
    float* du_all = user_grad->flat<float>().data();
    const int64_t batch = s.batch;

    auto work = [&](int64_t first_block, int64_t last_block) {
      for (int64_t k = first_block; k < last_block; ++k) {
        float* dc_all = acc + k * stride;
        float* dp_all = dc_all + vocabulary * n;
        float* dh = dp_all + length * n;
        for (int64_t b = batch * k / blocks; b < batch * (k + 1) / blocks; ++b) {
          const float* u = user + b * n;
          float* du = du_all + b * n;
          std::fill(du, du + n, 0.0f);
          for (int64_t l = 0; l < length; ++l) {
            const float g = grad[b * length + l];
            const int64_t id = ids[b * length + l];
            const float* c = chords + id * n;
            const float* p = positions + l * n;
            float* dc = dc_all + id * n;
            float* dp = dp_all + l * n;
#pragma omp simd
            for (int64_t a = 0; a < n; ++a) {
              const float z = u[a] + c[a] + p[a];
              const float m = z > 0.0f ? g : 0.0f;  // g * ReLU'(z)
              const float t = m * h[a];
              du[a] += t;
              dc[a] += t;
              dp[a] += t;
              dh[a] += m * z;  // g * ReLU(z)
            }
          }
        }
      }
    };
    tensorflow::Shard(static_cast<int>(blocks), threads->workers, blocks,
                      /*cost_per_unit=*/1 << 30, work);

    // The blocks' sums, in block order.
    float* dc_out = chord_grad->flat<float>().data();
    float* dp_out = position_grad->flat<float>().data();
    float* dh_out = h_grad->flat<float>().data();
    std::fill(dc_out, dc_out + vocabulary * n, 0.0f);
    std::fill(dp_out, dp_out + length * n, 0.0f);
    std::fill(dh_out, dh_out + n, 0.0f);
    for (int64_t k = 0; k < blocks; ++k) {
      const float* dc = acc + k * stride;
      const float* dp = dc + vocabulary * n;
      const float* dh = dp + length * n;
      for (int64_t i = 0; i < vocabulary * n; ++i) dc_out[i] += dc[i];
      for (int64_t i = 0; i < length * n; ++i) dp_out[i] += dp[i];
      for (int64_t i = 0; i < n; ++i) dh_out[i] += dh[i];
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("CoatChordScores").Device(DEVICE_CPU), ChordScoresOp);
REGISTER_KERNEL_BUILDER(Name("CoatChordScoresGrad").Device(DEVICE_CPU), ChordScoresGradOp);

}  // namespace coat
