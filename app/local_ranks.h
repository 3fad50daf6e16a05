#pragma once
// `train --nproc N`: runs N ranks of this very command on this machine and waits for them.
#include <chrono>
#include <string>
#include <vector>

namespace captioner::cli {

// This process's command line (argv[0] excluded), as the kernel has it.
std::vector<std::string> own_arguments();

// Starts this executable N times with `arguments` plus, for each rank, its rendezvous options
// (a fresh file rendezvous under the temp folder), and waits for all. While they run, Ctrl-C
// goes to the ranks, which stop together; this process waits for them. If a rank fails, the
// others stop on their own within their timeout; any still running `timeout` + 30 s later are
// terminated. Returns 0 when all succeeded, else the first failure's exit code (130 for a stop).
int run_local_ranks(int nproc, const std::vector<std::string>& arguments, std::chrono::milliseconds timeout);

}  // namespace captioner::cli
