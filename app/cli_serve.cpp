#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "app/cli_options.h"
#include "app/commands.h"
#include "core/serve/http_server.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"

namespace captioner::cli {

namespace {

struct ServeArgs {
  ServeConfig config;
  std::string token_file;
  int64_t threads = 0;
};

// The token from a file (its first line), so that it never shows in `ps` as an argument would.
std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path, std::string("cannot read the token file: ") + std::strerror(errno));
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.empty()) throw DataError(path, "the token file's first line is empty");
  return token;
}

void add_serve_options(CLI::App* cmd, ServeArgs* a) {
  ServeConfig& c = a->config;
  cmd->add_option("--model", c.model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--encoder", c.encoder, "Encoder weight file (default: the installed one)");
  cmd->add_option("--host", c.host, "Address to listen on (another than 127.0.0.1 opens the service to the network)")
      ->capture_default_str();
  cmd->add_option("--port", c.port, "Port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  auto* token = cmd->add_option("--token", c.token,
                                "Require 'Authorization: Bearer TOKEN' on the API (visible to `ps`: "
                                "prefer --token-file or CAPTIONER_SERVE_TOKEN)")
                    ->envname("CAPTIONER_SERVE_TOKEN");
  cmd->add_option("--token-file", a->token_file, "Read the token from this file's first line")->excludes(token);
  cmd->add_option("--cors-origin", c.cors_origin,
                  "Let web pages of this origin (https://example.org, or *) call the API from a browser (off by default)");
  cmd->add_option("--max-batch", c.batching.max_batch, "Images encoded together")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", c.batching.max_wait_ms, "Longest wait for a batch to fill")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--max-queue", c.batching.max_queue, "Images waiting at most; more get 503")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--max-body-mb", c.max_body_mb, "Largest request body")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--max-in-flight-mb", c.max_in_flight_mb, "Request bodies being read or answered, together; more get 503")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_option("--header-timeout", c.header_timeout_s,
                  "Seconds a request's line and headers may take from their first byte (408 after)")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  cmd->add_option("--timeout", c.timeout_s, "Longest wait in seconds for a request's captions (503 after)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--device", c.batching.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_encoder_precision_option(cmd, c.batching.precision);
  cmd->add_option("--threads", a->threads, "CPU threads for the model (0 = all cores)")->capture_default_str();
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return text;
}

int run_serve(ServeArgs& a) {
  if (!a.token_file.empty()) a.config.token = read_token_file(a.token_file);
  // SIGINT and SIGTERM go to one thread that stops the server; blocked before any other thread
  // starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // sent by this function to end the waiting thread
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  configure_threads(a.threads);
  std::mutex log_mutex;
  a.config.log = [&log_mutex](const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mutex);
    std::cerr << timestamp() << ' ' << line << std::endl;
  };
  CaptionServer server(a.config);
  server.bind();
  std::cout << "Serving " << server.model().id << " (" << server.captioner().summary() << ") at " << server.address()
            << std::endl;
  std::cout << "  OpenAI chat completions: " << server.address() << "v1/chat/completions; Hugging Face: " << server.address()
            << "caption; Ctrl-C stops" << std::endl;

  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGUSR1) return;
    signalled = true;
    a.config.log("serve: " + std::string(received == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": answering the requests in flight, then stopping");
    server.stop();
  });
  server.run();
  if (!signalled) pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  a.config.log("serve: stopped after " + std::to_string(server.captioner().stats().images) + " images in " +
               std::to_string(server.captioner().stats().batches) + " batches");
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve",
                                 "Serve a trained model over HTTP (OpenAI chat completions, Hugging Face "
                                 "image-to-text, a web page)");
  add_serve_options(cmd, a.get());
  return [a]() -> int { return run_serve(*a); };
}

}  // namespace captioner::cli
