#pragma once
// A LibTorch archive's pickle records, walked before LibTorch's unpickler reads them. The
// unpickler sizes a string by the length its opcode declares before reading it: a 60 KB file
// declaring 4 GB took 4.2 GB of memory. Here every opcode's argument must fit in what is left of
// its record, and only the opcodes of pickle protocols 0-5 are known.
#include <string>

namespace captioner {

// What is wrong with the archive's pickle records, naming the record, the opcode and the byte;
// empty when nothing is, and for an archive LibTorch's own reader refuses (load_from says why).
std::string archive_pickle_problem(const std::string& archive_bytes);

// The same for one pickle's bytes.
std::string pickle_problem(const std::string& pickle);

}  // namespace captioner
