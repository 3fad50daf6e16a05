#include "core/util/precision.h"

#ifdef CAPTIONER_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <utility>

#include "core/util/errors.h"

namespace captioner {

namespace {
thread_local MatmulPrecision t_precision = MatmulPrecision::Fp32;

bool built_with_onednn() {
#ifdef CAPTIONER_HAVE_DNNL
  return true;
#else
  return false;
#endif
}
}  // namespace

const char* precision_name(MatmulPrecision precision) { return precision == MatmulPrecision::Bf16 ? "bf16" : "fp32"; }

bool cpu_has_native_bf16() {
#ifdef CAPTIONER_HAVE_DNNL
  // The ISA values are bit sets: a level includes every bit of the levels below it.
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
#else
  return false;
#endif
}

std::string cpu_matmul_isa() {
#ifdef CAPTIONER_HAVE_DNNL
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const std::pair<dnnl_cpu_isa_t, const char*> levels[] = {{dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
                                                           {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
                                                           {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
                                                           {dnnl_cpu_isa_avx512_core, "avx512_core"},
                                                           {dnnl_cpu_isa_avx2, "avx2"},
                                                           {dnnl_cpu_isa_avx, "avx"},
                                                           {dnnl_cpu_isa_sse41, "sse41"}};
  for (const auto& [level, name] : levels)
    if ((isa & static_cast<unsigned>(level)) == static_cast<unsigned>(level)) return name;
  return "baseline";
#else
  return "unknown (no oneDNN)";
#endif
}

MatmulPrecision choose_precision(const std::string& choice, bool on_cpu, bool native_bf16) {
  if (choice == "fp32") return MatmulPrecision::Fp32;
  if (choice == "auto") return on_cpu && native_bf16 && built_with_onednn() ? MatmulPrecision::Bf16 : MatmulPrecision::Fp32;
  if (choice == "bf16") {
    if (!on_cpu) throw ConfigError("precision bf16 runs on the CPU only; use fp32 (or auto) on CUDA");
    if (!built_with_onednn()) throw ConfigError("precision bf16 needs a build with oneDNN; use fp32 (or auto)");
    return MatmulPrecision::Bf16;
  }
  throw ConfigError("precision '" + choice + "': expected auto, fp32 or bf16");
}

MatmulPrecisionScope::MatmulPrecisionScope(MatmulPrecision precision) : outer_(t_precision) { t_precision = precision; }
MatmulPrecisionScope::~MatmulPrecisionScope() { t_precision = outer_; }

MatmulPrecision current_matmul_precision() { return t_precision; }

}  // namespace captioner
