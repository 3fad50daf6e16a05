#pragma once
// The models' linear layers on a fast GEMM. The vocabulary projection (hidden -> logits) is the
// costliest layer of every captioning model (3 x 2*N*hidden*vocab FLOPs per training step), and
// the attention model's per-step and per-cell layers run through the same product. On CPU it runs
// on oneDNN's GEMM when the build has oneDNN (the library LibTorch itself uses): OpenBLAS falls
// back to a generic SSE kernel on processors it does not recognise, which was 3-4x slower here.
// Elsewhere it is torch::linear.
#include <torch/types.h>

namespace captioner {

// hidden [N, in], weight [out, in], bias [out] (or undefined) -> [N, out]; differentiable in all
// three (a gradient is computed only for the inputs that need one).
torch::Tensor fast_linear(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& bias);

// Mean cross-entropy of softmax(hidden W^T + b) against `targets` [N], in one differentiable
// step. With oneDNN the logits buffer is turned into the gradient in place, so the [N, vocab]
// intermediates of log_softmax / nll_loss are never allocated; otherwise the plain composition.
torch::Tensor projected_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& bias,
                                      const torch::Tensor& targets);

// Whether fast_linear can use oneDNN for these tensors.
bool fast_projection_available(const torch::Tensor& hidden);

}  // namespace captioner
