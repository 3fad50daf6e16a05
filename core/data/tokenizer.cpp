#include "core/data/tokenizer.h"

#include <string_view>

#include <cctype>

namespace captioner {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Characters that always form tokens of their own. Apostrophes and hyphens stay inside words
// ("man's", "t-shirt"), so PTB-style pieces such as "'s" survive a second pass unchanged.
bool is_split_punct(char c) { return std::string_view(".,!?;:\"()[]{}/`").find(c) != std::string_view::npos; }

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) {
      flush();
      continue;
    }
    if (is_split_punct(c)) {
      // A decimal point or thousands separator between digits is part of the number: "3.5".
      const bool in_number =
          (c == '.' || c == ',') && !word.empty() && is_digit(word.back()) && i + 1 < text.size() && is_digit(text[i + 1]);
      if (in_number) {
        word.push_back(c);
        continue;
      }
      flush();
      // Runs of dots ("...") stay one token.
      std::string punct(1, c);
      while (c == '.' && i + 1 < text.size() && text[i + 1] == '.') {
        punct.push_back('.');
        ++i;
      }
      tokens.push_back(std::move(punct));
      continue;
    }
    // ASCII lower-casing only: bytes of multi-byte UTF-8 sequences pass through untouched.
    word.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  flush();
  return tokens;
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  }
  return out;
}

std::string readable_caption(const std::string& tokens_text) {
  std::string out;
  out.reserve(tokens_text.size());
  for (size_t i = 0; i < tokens_text.size(); ++i) {
    const bool space_before_mark = tokens_text[i] == ' ' && i + 1 < tokens_text.size() &&
                                   std::string_view(",.;:!?").find(tokens_text[i + 1]) != std::string_view::npos &&
                                   (i + 2 == tokens_text.size() || tokens_text[i + 2] == ' ');
    if (!space_before_mark) out += tokens_text[i];
  }
  return out;
}

}  // namespace captioner
