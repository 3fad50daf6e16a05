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

// A caption as people read it: the tokens' text with punctuation attached to the word before it
// ("a dog , running ." -> "a dog, running."). For display and exports only; scores use tokens.
std::string readable_caption(const std::string& tokens_text);

}  // namespace captioner
