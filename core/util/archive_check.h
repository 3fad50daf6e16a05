#pragma once
// Checks of a LibTorch archive (a checkpoint, an encoder file) that LibTorch's own reader does
// not make, each run before anything reads what it checks.
// - Pickle records are walked first: the unpickler sizes a string by the length its opcode
//   declares before reading it (a 60 KB file declaring 4 GB took 4.2 GB of memory). Every
//   opcode's argument must fit in what is left of its record; only protocols 0-5 are known.
// - A tensor read from an archive keeps the storage of its record, however short for its shape:
//   reading its values would read past the record.
// - The TorchScript of its code/ records is compiled by LibTorch on loading, and its compiler
//   crashed on a forged one (a class constant it could not type): only the lines LibTorch writes
//   for a module of attributes are let through.
#include <torch/types.h>

#include <string>

namespace captioner {

// What is wrong with the archive's pickle or code records, naming the record and where; empty
// when nothing is, and for an archive LibTorch's own reader refuses (load_from says why).
std::string archive_pickle_problem(const std::string& archive_bytes);

// The same for one pickle's bytes, and for one code record's text.
std::string pickle_problem(const std::string& pickle);
std::string module_code_problem(const std::string& code);

// "N bytes where its shape needs M" when the tensor's storage is too short for its shape (or it
// is not contiguous, which no saved record is); empty when it is not.
std::string short_storage_problem(const torch::Tensor& t);

}  // namespace captioner
