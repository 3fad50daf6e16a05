#pragma once
// Caption tokenizer: lower-case, whitespace split, punctuation split off.
// Idempotent: tokenizing the space-joined output of tokenize() gives the same tokens, so
// already-tokenized captions (the notebook's handout, Karpathy "tokens") are kept as they are.
#include <string>
#include <string_view>
#include <vector>

namespace captioner {

std::vector<std::string> tokenize(std::string_view text);

// Joins tokens with single spaces (the inverse of tokenize for display).
std::string join_tokens(const std::vector<std::string>& tokens);

}  // namespace captioner
