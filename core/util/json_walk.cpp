#include "core/util/json_walk.h"

#include <utility>

#include "core/util/errors.h"

namespace captioner {

bool JsonPlace::is(std::initializer_list<const char*> pattern) const {
  if (pattern.size() != steps_.size()) return false;
  size_t i = 0;
  for (const char* p : pattern) {
    const Step& s = steps_[i++];
    const std::string step = p;
    const bool matches = step == "*" ? s.in_array : step == "?" ? !s.in_array : (!s.in_array && s.key == step);
    if (!matches) return false;
  }
  return true;
}

std::string JsonPlace::name() const {
  if (steps_.empty()) return "top level";
  std::string out;
  for (const Step& s : steps_) out += s.in_array ? "[" + std::to_string(s.index) + "]" : (out.empty() ? "" : ".") + s.key;
  return out;
}

namespace {

using json = nlohmann::json;

// nlohmann's SAX interface, turned into placed events.
class Walker final : public nlohmann::json_sax<json> {
 public:
  Walker(const std::string& path, const JsonWalkHandler& handler) : path_(path), handler_(handler) {}

  bool null() override { return value(json()); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return value(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override { return value(json(std::move(v))); }
  bool binary(binary_t&) override { return value(json()); }
  bool start_object(std::size_t) override { return open(false); }
  bool start_array(std::size_t) override { return open(true); }
  bool key(string_t& k) override {
    place_.steps_.back().key = std::move(k);
    return true;
  }
  bool end_object() override { return close(false); }
  bool end_array() override { return close(true); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw DataError(path_, std::string("malformed JSON: ") + e.what());
  }

 private:
  bool value(const json& v) {
    if (handler_.on_value) handler_.on_value(place_, v);
    next();
    return true;
  }
  bool open(bool array) {
    if (handler_.on_open) handler_.on_open(place_, array);
    JsonPlace::Step step;
    step.in_array = array;
    place_.steps_.push_back(std::move(step));
    return true;
  }
  bool close(bool array) {
    place_.steps_.pop_back();
    if (handler_.on_close) handler_.on_close(place_, array);
    next();
    return true;
  }
  void next() {
    if (!place_.steps_.empty() && place_.steps_.back().in_array) ++place_.steps_.back().index;
  }

  const std::string& path_;
  const JsonWalkHandler& handler_;
  JsonPlace place_;
};

}  // namespace

void walk_json(const std::string& text, const std::string& path, const JsonWalkHandler& handler) {
  Walker walker(path, handler);
  json::sax_parse(text, &walker);
}

}  // namespace captioner
