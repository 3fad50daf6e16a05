#include "core/model/projection.h"

#include <torch/autograd.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#ifdef CAPTIONER_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "core/util/errors.h"
#include "core/util/precision.h"

namespace captioner {

#ifdef CAPTIONER_HAVE_DNNL
namespace {

// Row-major C[M, N] = op(A) op(B) + beta * C, op = transpose when the flag is 'T'.
void gemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const torch::Tensor& a, const torch::Tensor& b, float beta,
          torch::Tensor& c) {
  const int64_t lda = trans_a == 'N' ? k : m;
  const int64_t ldb = trans_b == 'N' ? n : k;
  const dnnl_status_t status = dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb,
                                          beta, c.data_ptr<float>(), n);
  if (status != dnnl_success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(status));
}

// Mixed precision: bf16 operands, fp32 accumulation and result, on oneDNN's matmul primitive
// (its bf16 kernels use AVX512-BF16 or AMX where the CPU has them). Products smaller than this
// stay fp32: rounding their operands would cost more than it saves.
constexpr double kMinBf16Flops = 8e6;
// Token counts change every step; rows are padded with zeros to a multiple of a quantum, so a run
// needs a few dozen primitives (each takes about a millisecond to make) rather than one a step.
// A batch's recurrent products (32 rows, or 16 for each of two threads) would double or quadruple
// their work when padded to 64, hence the finer quantum below 256 rows.
int64_t padded_rows(int64_t rows) {
  const int64_t quantum = rows <= 256 ? 16 : 64;
  return (rows + quantum - 1) / quantum * quantum;
}

// x [rows, cols] as bf16 [padded, cols], the extra rows zero.
torch::Tensor to_bf16_rows(const torch::Tensor& x, int64_t padded) {
  auto out = torch::empty({padded, x.size(1)}, x.options().dtype(torch::kBFloat16));
  out.narrow(0, 0, x.size(0)).copy_(x);
  if (padded > x.size(0)) out.narrow(0, x.size(0), padded - x.size(0)).zero_();
  return out;
}

class Bf16Matmul {
 public:
  // Row-major C[m, n] (fp32) = op(A) op(B) (+ C when accumulate), A and B bf16, op = transpose for 'T'.
  void run(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const torch::Tensor& a, const torch::Tensor& b,
           bool accumulate, torch::Tensor& c) {
    using dnnl::memory;
    const memory::desc a_md({m, k}, memory::data_type::bf16, trans_a == 'N' ? memory::dims{k, 1} : memory::dims{1, m});
    const memory::desc b_md({k, n}, memory::data_type::bf16, trans_b == 'N' ? memory::dims{n, 1} : memory::dims{1, k});
    const memory::desc c_md({m, n}, memory::data_type::f32, memory::dims{n, 1});
    const Primitive& primitive = find(std::make_tuple(trans_a, trans_b, m, n, k, accumulate), a_md, b_md, c_md, accumulate);
    memory a_mem(a_md, engine_, a.data_ptr()), b_mem(b_md, engine_, b.data_ptr()), c_mem(c_md, engine_, c.data_ptr());
    // Each call brings its own scratchpad: one primitive may run on several threads at once (the
    // shares of a training step), which oneDNN's shared library scratchpad does not allow.
    const auto scratch = torch::empty({static_cast<int64_t>(primitive.scratchpad.get_size())}, torch::kUInt8);
    memory scratch_mem(primitive.scratchpad, engine_, scratch.data_ptr());
    dnnl::stream stream(engine_);
    primitive.matmul.execute(
        stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}, {DNNL_ARG_SCRATCHPAD, scratch_mem}});
    stream.wait();
  }

 private:
  using Key = std::tuple<char, char, int64_t, int64_t, int64_t, bool>;
  struct Primitive {
    dnnl::matmul matmul;
    dnnl::memory::desc scratchpad;
  };

  const Primitive& find(const Key& key, const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc& c,
                        bool accumulate) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = primitives_.find(key); it != primitives_.end()) return it->second;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    try {
#if DNNL_VERSION_MAJOR >= 3
      const dnnl::matmul::primitive_desc pd(engine_, a, b, c, attr);
#else
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine_);
#endif
      return primitives_.emplace(key, Primitive{dnnl::matmul(pd), pd.scratchpad_desc()}).first->second;
    } catch (const dnnl::error& e) {
      throw ConfigError(std::string("this CPU cannot run bf16 matrix products (oneDNN: ") + e.what() + "); use precision fp32");
    }
  }

  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  std::mutex mutex_;
  std::map<Key, Primitive> primitives_;  // at most a few dozen shapes in a run
};

Bf16Matmul& bf16_matmul() {
  static Bf16Matmul instance;
  return instance;
}

bool use_bf16(int64_t n, int64_t v, int64_t k) {
  return current_matmul_precision() == MatmulPrecision::Bf16 &&
         2.0 * static_cast<double>(n) * static_cast<double>(v) * static_cast<double>(k) >= kMinBf16Flops;
}

// The three products of a linear layer y = h W^T (+ bias already in y), in bf16: operands are
// rounded once and kept for backward.
struct Bf16Operands {
  torch::Tensor h;  // [padded n, k] bf16
  torch::Tensor w;  // [v, k] bf16
  int64_t n = 0;
};

Bf16Operands bf16_operands(const torch::Tensor& h, const torch::Tensor& w) {
  return {to_bf16_rows(h, padded_rows(h.size(0))), w.to(torch::kBFloat16).contiguous(), h.size(0)};
}

// y [n, v] = h W^T + bias, computed in a padded buffer whose first n rows are returned.
torch::Tensor bf16_forward(const Bf16Operands& x, const torch::Tensor& bias) {
  const int64_t rows = x.h.size(0), k = x.h.size(1), v = x.w.size(0);
  auto out = bias.unsqueeze(0).expand({rows, v}).clone(torch::MemoryFormat::Contiguous);
  bf16_matmul().run('N', 'T', rows, v, k, x.h, x.w, /*accumulate=*/true, out);
  return out.narrow(0, 0, x.n);
}

// grad_hidden = g W, grad_weight = g^T h for g [n, v]; either may be skipped.
std::pair<torch::Tensor, torch::Tensor> bf16_backward(const Bf16Operands& x, const torch::Tensor& g, bool want_hidden,
                                                      bool want_weight) {
  const int64_t rows = x.h.size(0), k = x.h.size(1), v = x.w.size(0);
  const auto gb = to_bf16_rows(g, rows);
  torch::Tensor grad_hidden, grad_weight;
  if (want_hidden) {
    grad_hidden = torch::empty({rows, k}, g.options());
    bf16_matmul().run('N', 'N', rows, k, v, gb, x.w, false, grad_hidden);
    grad_hidden = grad_hidden.narrow(0, 0, x.n);
  }
  if (want_weight) {
    grad_weight = torch::empty({v, k}, g.options());
    bf16_matmul().run('T', 'N', v, k, rows, gb, x.h, false, grad_weight);  // the zero rows add nothing
  }
  return {grad_hidden, grad_weight};
}

void save_bf16(torch::autograd::AutogradContext* ctx, const Bf16Operands& x) {
  ctx->saved_data["bf16_h"] = x.h;
  ctx->saved_data["bf16_w"] = x.w;
  ctx->saved_data["bf16_n"] = x.n;
}

bool saved_bf16(torch::autograd::AutogradContext* ctx, Bf16Operands& x) {
  const auto it = ctx->saved_data.find("bf16_h");
  if (it == ctx->saved_data.end()) return false;
  x.h = it->second.toTensor();
  x.w = ctx->saved_data["bf16_w"].toTensor();
  x.n = ctx->saved_data["bf16_n"].toInt();
  return true;
}

class Projection : public torch::autograd::Function<Projection> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    const auto h = hidden.contiguous();
    const auto w = weight.contiguous();
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    if (use_bf16(n, v, k)) {
      const Bf16Operands x = bf16_operands(h, w);
      save_bf16(ctx, x);
      return bf16_forward(x, bias);
    }
    ctx->save_for_backward({h, w});
    auto out = bias.unsqueeze(0).expand({n, v}).clone(torch::MemoryFormat::Contiguous);  // bias first, then += h W^T
    gemm('N', 'T', n, v, k, h, w, 1.0f, out);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto g = grads[0].contiguous();
    if (Bf16Operands x; saved_bf16(ctx, x)) {
      auto [grad_hidden, grad_weight] = bf16_backward(x, g, ctx->needs_input_grad(0), ctx->needs_input_grad(1));
      return {grad_hidden, grad_weight, g.sum(0)};
    }
    const auto saved = ctx->get_saved_variables();
    const auto& h = saved[0];
    const auto& w = saved[1];
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    torch::Tensor grad_hidden, grad_weight;
    if (ctx->needs_input_grad(0)) {  // not for constant inputs such as image features
      grad_hidden = torch::empty({n, k}, h.options());
      gemm('N', 'N', n, k, v, g, w, 0.0f, grad_hidden);  // g W
    }
    if (ctx->needs_input_grad(1)) {
      grad_weight = torch::empty({v, k}, w.options());
      gemm('T', 'N', v, k, n, g, h, 0.0f, grad_weight);  // g^T h
    }
    return {grad_hidden, grad_weight, g.sum(0)};
  }
};

// Loss of the projected logits. Forward keeps only (softmax - onehot) in the logits buffer;
// backward scales it by the incoming gradient / N and runs the two GEMMs.
class ProjectedCrossEntropy : public torch::autograd::Function<ProjectedCrossEntropy> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& targets) {
    const auto h = hidden.contiguous();
    const auto w = weight.contiguous();
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    torch::Tensor buffer;
    if (use_bf16(n, v, k)) {
      const Bf16Operands x = bf16_operands(h, w);
      save_bf16(ctx, x);
      buffer = bf16_forward(x, bias);  // logits
    } else {
      ctx->save_for_backward({h, w});
      buffer = bias.unsqueeze(0).expand({n, v}).clone(torch::MemoryFormat::Contiguous);
      gemm('N', 'T', n, v, k, h, w, 1.0f, buffer);  // logits
    }
    const auto index = targets.unsqueeze(1);
    const auto lse = buffer.logsumexp(1, /*keepdim=*/true);
    auto loss = (lse - buffer.gather(1, index)).mean();
    buffer.sub_(lse).exp_();                                                    // softmax
    buffer.scatter_add_(1, index, -torch::ones_like(index, buffer.options()));  // - onehot
    ctx->saved_data["grad"] = buffer;
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto& slot = ctx->saved_data["grad"];
    if (!slot.isTensor()) throw std::runtime_error("projected_cross_entropy: backward may run only once");
    auto g = slot.toTensor();
    slot = c10::IValue();  // the buffer is consumed in place below
    g.mul_(grads[0].to(g.dtype()) / static_cast<double>(g.size(0)));
    if (Bf16Operands x; saved_bf16(ctx, x)) {
      auto [grad_hidden, grad_weight] = bf16_backward(x, g, true, true);
      return {grad_hidden, grad_weight, g.sum(0), torch::Tensor()};
    }
    const auto saved = ctx->get_saved_variables();
    const auto& h = saved[0];
    const auto& w = saved[1];
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    auto grad_hidden = torch::empty({n, k}, h.options());
    gemm('N', 'N', n, k, v, g, w, 0.0f, grad_hidden);
    auto grad_weight = torch::empty({v, k}, w.options());
    gemm('T', 'N', v, k, n, g, h, 0.0f, grad_weight);
    return {grad_hidden, grad_weight, g.sum(0), torch::Tensor()};
  }
};

}  // namespace
#endif

torch::Tensor projected_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& bias,
                                      const torch::Tensor& targets) {
#ifdef CAPTIONER_HAVE_DNNL
  if (fast_projection_available(hidden) && weight.scalar_type() == torch::kFloat32 && bias.defined() && hidden.size(0) > 0)
    return ProjectedCrossEntropy::apply(hidden, weight, bias, targets);
#endif
  return torch::nn::functional::cross_entropy(fast_linear(hidden, weight, bias), targets);
}

bool fast_projection_available(const torch::Tensor& hidden) {
#ifdef CAPTIONER_HAVE_DNNL
  return hidden.device().is_cpu() && hidden.scalar_type() == torch::kFloat32 && hidden.dim() == 2;
#else
  (void)hidden;
  return false;
#endif
}

torch::Tensor fast_linear(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& bias) {
#ifdef CAPTIONER_HAVE_DNNL
  if (fast_projection_available(hidden) && weight.scalar_type() == torch::kFloat32 && bias.defined() && hidden.size(0) > 0)
    return Projection::apply(hidden, weight, bias);
#endif
  return torch::nn::functional::linear(hidden, weight, bias);
}

}  // namespace captioner
