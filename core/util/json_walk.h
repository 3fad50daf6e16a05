#pragma once
// A JSON text read as a stream of events, each with its place in the document, without building
// the document: memory is what the caller keeps (a dataset file's DOM took 5-10x the file).
// Containers the caller does not care about are walked through and dropped.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace captioner {

// Where a value is: the keys and array indices from the top, e.g. images[3].id.
class JsonPlace {
 public:
  struct Step {
    bool in_array = false;
    size_t index = 0;  // in_array
    std::string key;   // otherwise
  };

  size_t depth() const { return steps_.size(); }
  // True when the place is exactly `pattern`: keys, "*" for any array index, "?" for any key.
  bool is(std::initializer_list<const char*> pattern) const;
  size_t index(size_t depth) const { return steps_[depth].index; }
  // "images[3].sentences[0]" (the top is "top level").
  std::string name() const;

  std::vector<Step> steps_;
};

struct JsonWalkHandler {
  // A string, number, true, false or null at `place`.
  std::function<void(const JsonPlace& place, const nlohmann::json& value)> on_value;
  // An object or array opens or closes at `place`.
  std::function<void(const JsonPlace& place, bool array)> on_open;
  std::function<void(const JsonPlace& place, bool array)> on_close;
};

// Walks `text`; a syntax error or a number out of range throws DataError(path, "malformed JSON: ..."),
// and what the handler throws passes through.
void walk_json(const std::string& text, const std::string& path, const JsonWalkHandler& handler);

}  // namespace captioner
