// The caption service's wire formats (core/serve/api.h), without a socket: OpenAI's chat
// completions in and out, Hugging Face's answer, errors, and the token check.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/serve/api.h"
#include "core/util/base64.h"

using namespace captioner;
using nlohmann::json;

namespace {

// A chat request with `content` as the user message's content and `extra` fields merged in.
std::string chat(const json& content, const json& extra = json::object()) {
  json body = {{"model", "any"}, {"messages", json::array({{{"role", "user"}, {"content", content}}})}};
  body.update(extra);
  return body.dump();
}

json image_part(const std::string& url) { return {{"type", "image_url"}, {"image_url", {{"url", url}}}}; }

// "Man" in base64, as a PNG data URL (the parser does not look inside the bytes).
const std::string kUrl = "data:image/png;base64,TWFu";

// The ApiError `fn` throws: its status and code.
template <typename Fn>
std::pair<int, std::string> refusal(Fn&& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return {e.status, e.code};
  }
  return {0, "accepted"};
}

CaptionResult result(const std::string& text, bool finished, int words) {
  CaptionResult r;
  r.text = text;
  r.finished = finished;
  for (int i = 0; i < words; ++i)
    r.tokens.push_back(
        {"w" + std::to_string(i), -0.5f, std::vector<float>(64, 1.0f / 64), {{"w" + std::to_string(i), -0.5f}, {"x", -1.5f}}});
  if (finished) r.tokens.push_back({"#END#", -0.1f, {}, {}});
  return r;
}

}  // namespace

class TestApi : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void base64_is_strict() {
    QCOMPARE(decode_base64("TWFu"), std::string("Man"));
    QCOMPARE(decode_base64("TWE"), std::string("Ma"));  // padding left out
    QCOMPARE(decode_base64("TQ=="), std::string("M"));
    for (const char* bad : {"T", "TWFu\n", "TW u", "TQ===", "TQ=", "T-_u"})
      QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode_base64(bad));
  }

  void chat_request_takes_the_newest_image() {
    const auto r = parse_chat_request(chat(json::array({{{"type", "text"}, {"text", "What is this?"}}, image_part(kUrl)})));
    QCOMPARE(r.image, std::string("Man"));
    QCOMPARE(r.stream, false);
    // The URL as a bare string (some clients), and the last image of a conversation.
    json body = {{"messages",
                  json::array({{{"role", "user"}, {"content", json::array({image_part("data:image/png;base64,AAAA")})}},
                               {{"role", "assistant"}, {"content", "a cat"}},
                               {{"role", "user"}, {"content", json::array({{{"type", "image_url"}, {"image_url", kUrl}}})}}})}};
    QCOMPARE(parse_chat_request(body.dump()).image, std::string("Man"));
  }

  void chat_request_refusals_name_the_problem() {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not json", "bad_json"},
        {"[1, 2]", "bad_json"},
        {"{}", "no_messages"},
        {R"({"messages": []})", "no_messages"},
        {R"({"messages": [1]})", "bad_message"},
        {chat("describe this picture"), "no_image"},
        {chat(json::array({{{"type", "text"}, {"text", "hi"}}})), "no_image"},
        {chat(json::array({{{"type", 5}, {"image_url", kUrl}}, 7, nullptr})), "no_image"},
        {chat(json::array({image_part("https://example.com/cat.jpg")})), "unsupported_image_url"},
        {chat(json::array({image_part("data:image/png,rawbytes")})), "bad_data_url"},
        {chat(json::array({image_part("data:image/png;base64")})), "bad_data_url"},
        {chat(json::array({image_part("data:image/png;base64,@@@@")})), "bad_base64"},
        {chat(json::array({image_part("data:image/png;base64,")})), "no_image"},
        {chat(json::array({{{"type", "image_url"}, {"image_url", 7}}})), "bad_image_url"},
        {chat(json::array({image_part(kUrl)}), {{"temperature", "hot"}}), "bad_temperature"},
        {chat(json::array({image_part(kUrl)}), {{"temperature", -1}}), "bad_temperature"},
        {chat(json::array({image_part(kUrl)}), {{"n", 0}}), "bad_n"},
        {chat(json::array({image_part(kUrl)}), {{"n", 1.5}}), "bad_n"},
        {chat(json::array({image_part(kUrl)}), {{"n", 17}}), "bad_n"},
        {chat(json::array({image_part(kUrl)}), {{"max_tokens", 0}}), "bad_max_tokens"},
        {chat(json::array({image_part(kUrl)}), {{"top_logprobs", 3}}), "bad_top_logprobs"},  // without logprobs: true
        {chat(json::array({image_part(kUrl)}), {{"top_logprobs", 21}, {"logprobs", true}}), "bad_top_logprobs"},
        {chat(json::array({image_part(kUrl)}), {{"logprobs", 1}}), "bad_logprobs"},
        {chat(json::array({image_part(kUrl)}), {{"stream_options", 1}}), "bad_stream_options"},
        {chat(json::array({image_part(kUrl)}), {{"max_tokens", 1LL << 40}}), "bad_max_tokens"},
        {chat(json::array({image_part(kUrl)}), {{"beam_width", -2}}), "bad_beam_width"},
        {chat(json::array({image_part(kUrl)}), {{"stream", "yes"}}), "bad_stream"},
    };
    for (const auto& [body, code] : cases) {
      const std::string& request = body;
      const auto [status, got] = refusal([&] { parse_chat_request(request); });
      QVERIFY2(status == 400 && got == code, (body.substr(0, 120) + " -> " + std::to_string(status) + " " + got).c_str());
    }
  }

  void decoding_parameters_map_to_one_rule() {
    DecodingParams p;
    QVERIFY(decode_options(p).mode == DecodeMode::Greedy);
    p.n = 3;  // several captions at temperature 0: the beam's best
    auto r = decode_options(p);
    QVERIFY(r.mode == DecodeMode::Beam);
    QCOMPARE(r.beam_width, 3);
    p.beam_width = 5;
    QCOMPARE(decode_options(p).beam_width, 5);
    p = {};
    p.temperature = 0.7;
    p.n = 4;
    p.seed = 11;
    p.max_tokens = 9;
    r = decode_options(p);
    QVERIFY(r.mode == DecodeMode::Sample);
    QCOMPARE(r.samples, 4);
    QCOMPARE(r.temperature, 0.7);
    QCOMPARE(r.seed, uint64_t{11});
    QCOMPARE(r.max_len, 9);
    const auto parsed = parse_chat_request(
        chat(json::array({image_part(kUrl)}), {{"temperature", 0.5}, {"n", 2}, {"max_completion_tokens", 7}, {"stream", true}}));
    QCOMPARE(parsed.params.temperature, 0.5);
    QCOMPARE(parsed.params.n, 2);
    QCOMPARE(parsed.params.max_tokens, 7);
    QVERIFY(parsed.stream);
    // Clients send generous limits: above the model's, max_tokens is lowered to it, not refused.
    p = {};
    p.max_tokens = 4096;
    QCOMPARE(decode_options(p).max_len, RequestLimits{}.max_tokens);
    const auto options = parse_chat_request(
        chat(json::array({image_part(kUrl)}),
             {{"max_tokens", 4096}, {"stream", true}, {"logprobs", true}, {"stream_options", {{"include_usage", true}}}}));
    QCOMPARE(options.decoding.max_len, RequestLimits{}.max_tokens);
    QVERIFY(options.include_usage && options.logprobs);
    QCOMPARE(options.decoding.top_alternatives, 0);
    const auto with_top = parse_chat_request(chat(json::array({image_part(kUrl)}), {{"logprobs", true}, {"top_logprobs", 5}}));
    QCOMPARE(with_top.decoding.top_alternatives, 5);
    // Hugging Face's parameters: max_new_tokens, sampling, beams and sequences.
    DecodingParams hf = hugging_face_parameters(R"({"max_new_tokens": 9, "do_sample": true, "temperature": 0.8, "seed": 3})", {});
    QCOMPARE(hf.max_tokens, 9);
    QCOMPARE(hf.temperature, 0.8);
    QCOMPARE(hf.seed, int64_t{3});
    hf = hugging_face_parameters(R"({"num_beams": 4, "num_return_sequences": 2, "do_sample": false, "temperature": 0.5})", {});
    QVERIFY(decode_options(hf).mode == DecodeMode::Beam);
    QCOMPARE(decode_options(hf).beam_width, 4);
    QCOMPARE(hf.n, 2);
    QVERIFY(decode_options(hugging_face_parameters(R"({"do_sample": true})", {})).mode == DecodeMode::Sample);
    const auto [status, code] = refusal([] { hugging_face_parameters(R"({"max_new_tokens": "lots"})", {}); });
    QCOMPARE(status, 400);
    QCOMPARE(code, std::string("bad_max_new_tokens"));
  }

  void chat_response_has_openais_shape() {
    ModelCard model{"shapes-run", 1700000000, 64};
    const auto answer = json::parse(
        chat_response_json({result("a red disc", true, 3), result("a b c d", false, 4)}, model, "chatcmpl-1", 1800000000));
    QCOMPARE(answer["object"].get<std::string>(), std::string("chat.completion"));
    QCOMPARE(answer["id"].get<std::string>(), std::string("chatcmpl-1"));
    QCOMPARE(answer["model"].get<std::string>(), std::string("shapes-run"));
    QCOMPARE(answer["created"].get<int64_t>(), int64_t{1800000000});
    QCOMPARE(answer["choices"].size(), size_t{2});
    QCOMPARE(answer["choices"][0]["message"]["role"].get<std::string>(), std::string("assistant"));
    QCOMPARE(answer["choices"][0]["message"]["content"].get<std::string>(), std::string("a red disc"));
    QCOMPARE(answer["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
    QCOMPARE(answer["choices"][1]["finish_reason"].get<std::string>(), std::string("length"));
    QCOMPARE(answer["choices"][1]["index"].get<int>(), 1);
    QCOMPARE(answer["usage"]["prompt_tokens"].get<int>(), 64);
    QCOMPARE(answer["usage"]["completion_tokens"].get<int>(), 4 + 4);  // END counts
    QCOMPARE(answer["usage"]["total_tokens"].get<int>(), 72);
    QCOMPARE(json::parse(models_json(model))["data"][0]["id"].get<std::string>(), std::string("shapes-run"));
    QCOMPARE(json::parse(model_json(model))["object"].get<std::string>(), std::string("model"));
    QVERIFY(answer["choices"][0]["logprobs"].is_null());  // only when asked for
    // logprobs: each word with its log-probability and bytes, as OpenAI's clients read them.
    const auto with = json::parse(chat_response_json({result("a red disc", true, 3)}, model, "c", 1, true));
    const auto& content = with["choices"][0]["logprobs"]["content"];
    QCOMPARE(content.size(), size_t{3});
    QCOMPARE(content[1]["token"].get<std::string>(), std::string("w1"));
    QVERIFY(std::abs(content[1]["logprob"].get<double>() + 0.5) < 1e-6);
    QCOMPARE(content[1]["bytes"], json::parse("[119, 49]"));
    // top_logprobs: the likeliest words at that place, each with its log-probability and bytes.
    const auto& top = content[1]["top_logprobs"];
    QCOMPARE(top.size(), size_t{2});
    QCOMPARE(top[1]["token"].get<std::string>(), std::string("x"));
    QVERIFY(std::abs(top[1]["logprob"].get<double>() + 1.5) < 1e-6);
    QCOMPARE(top[1]["bytes"], json::parse("[120]"));
  }

  void streamed_chunks_join_to_the_answer() {
    const std::string events = chat_response_events({result("a large red disc", true, 4)}, {"m", 0, 1}, "id", 5);
    QVERIFY(events.size() > 14 && events.compare(events.size() - 14, 14, "data: [DONE]\n\n") == 0);
    std::string text, finish;
    size_t chunks = 0;
    for (size_t at = 0; (at = events.find("data: {", at)) != std::string::npos; ++at) {
      const auto chunk = json::parse(events.substr(at + 6, events.find("\n\n", at) - at - 6));
      QCOMPARE(chunk["object"].get<std::string>(), std::string("chat.completion.chunk"));
      const auto& choice = chunk["choices"][0];
      if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
      if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"].get<std::string>();
      ++chunks;
    }
    QCOMPARE(text, std::string("a large red disc"));
    QCOMPARE(finish, std::string("stop"));
    QCOMPARE(chunks, size_t{1 + 4 + 1});  // role, a word each, finish
    // include_usage: one more chunk, without choices, with the usage.
    const std::string with_usage = chat_response_events({result("a large red disc", true, 4)}, {"m", 0, 1}, "id", 5, true);
    const size_t last = with_usage.rfind("data: {");
    const auto usage = json::parse(with_usage.substr(last + 6, with_usage.find("\n\n", last) - last - 6));
    QVERIFY(usage["choices"].empty());
    QCOMPARE(usage["usage"]["completion_tokens"].get<int>(), 5);
    // logprobs: the chunks' lists join to the caption's words, as OpenAI's clients join them.
    const std::string with_logprobs =
        chat_response_events({result("a large red disc", true, 4)}, {"m", 0, 1}, "id", 5, false, true);
    std::vector<std::string> tokens;
    for (size_t at = 0; (at = with_logprobs.find("data: {", at)) != std::string::npos; ++at) {
      const auto chunk = json::parse(with_logprobs.substr(at + 6, with_logprobs.find("\n\n", at) - at - 6));
      const auto& choice = chunk["choices"][0];
      if (choice.contains("logprobs"))
        for (const auto& t : choice["logprobs"]["content"]) tokens.push_back(t["token"].get<std::string>());
    }
    QCOMPARE(tokens, (std::vector<std::string>{"w0", "w1", "w2", "w3"}));  // END is not a word of the text
  }

  void caption_answer_has_hugging_faces_shape() {
    const auto plain = json::parse(caption_response_json({result("a blue star", true, 3)}, false));
    QCOMPARE(plain, json::parse(R"({"generated_text": "a blue star"})"));
    QCOMPARE(json::parse(caption_response_json({result("a blue star", true, 3)}, false, true)),
             json::parse(R"([{"generated_text": "a blue star"}])"));  // several asked for: a list
    const auto detailed = json::parse(caption_response_json({result("a blue star", true, 3)}, true, true));
    const auto& words = detailed[0]["words"];
    QCOMPARE(words.size(), size_t{3});  // END is not a word
    QVERIFY(std::abs(words[0]["probability"].get<double>() - std::exp(-0.5)) < 1e-6);
    QCOMPARE(words[0]["attention"].size(), size_t{64});
    QCOMPARE(detailed[0]["finished"].get<bool>(), true);
    QCOMPARE(detailed[0]["unsure"].get<bool>(), false);
    CaptionResult doubtful = result("a blue star", true, 3);
    doubtful.unsure = true;
    QCOMPARE(json::parse(caption_response_json({doubtful}, true))["unsure"].get<bool>(), true);
  }

  void errors_have_openais_shape() {
    const auto e = json::parse(error_json(400, "no_image", "no image"));
    QCOMPARE(e["error"]["message"].get<std::string>(), std::string("no image"));
    QCOMPARE(e["error"]["type"].get<std::string>(), std::string("invalid_request_error"));
    QCOMPARE(e["error"]["code"].get<std::string>(), std::string("no_image"));
    QVERIFY(e["error"].contains("param") && e["error"]["param"].is_null());
    try {
      parse_chat_request(chat(json::array({image_part(kUrl)}), {{"n", 99}}));
      QFAIL("n = 99 was accepted");
    } catch (const ApiError& error) {  // the field at fault is named, as OpenAI's clients expect
      QCOMPARE(json::parse(error_json(error.status, error.code, error.what(), error.param))["error"]["param"].get<std::string>(),
               std::string("n"));
    }
  }

  void secrets_compare_whole() {
    QVERIFY(same_secret("s3cret-token", "s3cret-token"));
    for (const char* wrong : {"", "s3cret", "s3cret-token ", "S3cret-token", "s3cret-tokem"})
      QVERIFY(!same_secret(wrong, "s3cret-token"));
  }
};

QTEST_APPLESS_MAIN(TestApi)
#include "test_api.moc"
