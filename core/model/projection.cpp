#include "core/model/projection.h"

#include <torch/autograd.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#ifdef CAPTIONER_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <stdexcept>
#include <string>

namespace captioner {

#ifdef CAPTIONER_HAVE_DNNL
namespace {

// Row-major C[M, N] = op(A) op(B) + beta * C, op = transpose when the flag is 'T'.
void gemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, const torch::Tensor& a, const torch::Tensor& b,
          float beta, torch::Tensor& c) {
  const int64_t lda = trans_a == 'N' ? k : m;
  const int64_t ldb = trans_b == 'N' ? n : k;
  const dnnl_status_t status = dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data_ptr<float>(), lda, b.data_ptr<float>(),
                                          ldb, beta, c.data_ptr<float>(), n);
  if (status != dnnl_success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(status));
}

class Projection : public torch::autograd::Function<Projection> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    const auto h = hidden.contiguous();
    const auto w = weight.contiguous();
    ctx->save_for_backward({h, w});
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    auto out = bias.unsqueeze(0).expand({n, v}).clone(torch::MemoryFormat::Contiguous);  // bias first, then += h W^T
    gemm('N', 'T', n, v, k, h, w, 1.0f, out);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& h = saved[0];
    const auto& w = saved[1];
    const auto g = grads[0].contiguous();
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
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& targets) {
    const auto h = hidden.contiguous();
    const auto w = weight.contiguous();
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    auto buffer = bias.unsqueeze(0).expand({n, v}).clone(torch::MemoryFormat::Contiguous);
    gemm('N', 'T', n, v, k, h, w, 1.0f, buffer);  // logits
    const auto index = targets.unsqueeze(1);
    const auto lse = buffer.logsumexp(1, /*keepdim=*/true);
    const auto loss = (lse - buffer.gather(1, index)).mean();
    buffer.sub_(lse).exp_();                             // softmax
    buffer.scatter_add_(1, index, -torch::ones_like(index, buffer.options()));  // - onehot
    ctx->saved_data["grad"] = buffer;
    ctx->save_for_backward({h, w});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto& slot = ctx->saved_data["grad"];
    if (!slot.isTensor()) throw std::runtime_error("projected_cross_entropy: backward may run only once");
    auto g = slot.toTensor();
    slot = c10::IValue();  // the buffer is consumed in place below
    const auto saved = ctx->get_saved_variables();
    const auto& h = saved[0];
    const auto& w = saved[1];
    const int64_t n = h.size(0), k = h.size(1), v = w.size(0);
    g.mul_(grads[0].to(g.dtype()) / static_cast<double>(n));
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
