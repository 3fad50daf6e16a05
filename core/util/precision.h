#pragma once
// Mixed precision for the models' matrix products on the CPU. With bf16, fast_linear and
// projected_cross_entropy give oneDNN bf16 operands (weights and activations rounded to bf16) and
// accumulate in fp32; weights, optimizer state, the loss, softmax and the gradient clip stay fp32,
// and checkpoints are unchanged. It pays where the CPU multiplies bf16 natively (AVX512-BF16 or
// AMX tiles): 2-3 times the fp32 GEMM rate.
#include <string>

namespace captioner {

enum class MatmulPrecision { Fp32, Bf16 };

const char* precision_name(MatmulPrecision precision);  // "fp32", "bf16"

// Whether oneDNN will run bf16 products on this CPU's own instructions (AVX512-BF16 or AMX), as
// oneDNN reports its ISA; false in a build without oneDNN.
bool cpu_has_native_bf16();
// The instruction set oneDNN uses for matrix products here, by its name ("avx512_core_amx",
// "avx512_core_bf16", "avx2", ...), or "unknown (no oneDNN)": benchmarks name the ISA they ran on.
std::string cpu_matmul_isa();

// "auto": bf16 on a CPU with native bf16 units, fp32 elsewhere (and on CUDA); "fp32"; "bf16"
// (on the CPU only, in a build with oneDNN). Throws ConfigError for anything else or a bf16 that
// cannot run. The ISA is an argument so the rule is testable on any machine.
MatmulPrecision choose_precision(const std::string& choice, bool on_cpu, bool native_bf16);

// While one lives, the fast products on this thread use `precision` (like torch.autocast): the
// trainer holds one around each training step. Nested scopes restore the outer one.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(MatmulPrecision precision);
  ~MatmulPrecisionScope();
  MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  MatmulPrecision outer_;
};

MatmulPrecision current_matmul_precision();  // this thread's; fp32 outside any scope

}  // namespace captioner
