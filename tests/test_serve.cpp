// `captioner serve` driven over loopback as its clients would: each endpoint's shape, answers
// equal to `captioner caption`, concurrent clients, every kind of bad request, the token, a full
// queue, SIGTERM, and the web page in headless Chromium. Each server is its own process.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "cli_support.h"
#include "core/serve/guarded_http_server.h"
#include "core/util/atomic_file.h"

using nlohmann::json;

namespace {

using captioner::test::Run;
using captioner::test::run;

std::string base64(const std::string& bytes) { return QByteArray::fromStdString(bytes).toBase64().toStdString(); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A `captioner serve` process on a free port.
class Server {
 public:
  Server(const QString& model, const QStringList& options) : log_file_(new QTemporaryFile) {
    log_file_->open();
    process_.setStandardErrorFile(log_file_->fileName());
    process_.start(QStringLiteral(CAPTIONER_EXE), QStringList{"serve", "--model", model, "--port", "0"} + options);
    QByteArray out;
    while (!out.contains('\n') && process_.waitForReadyRead(120000)) out += process_.readAllStandardOutput();
    const int at = out.indexOf("http://127.0.0.1:");
    if (at >= 0) port_ = out.mid(at + 17).split('/').first().toInt();
  }
  ~Server() {
    if (process_.state() != QProcess::NotRunning) {
      process_.terminate();
      if (!process_.waitForFinished(30000)) process_.kill();
      process_.waitForFinished();
    }
  }
  int port() const { return port_; }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(120);
    return c;
  }
  QProcess& process() { return process_; }
  // The server's log so far: it writes each line before it answers the request.
  std::string log() const { return captioner::read_file(log_file_->fileName().toStdString()); }
  // Polls /healthz until `field` reaches `value` (or a minute passes).
  bool wait_for(const char* field, int64_t value) {
    for (int i = 0; i < 6000; ++i) {
      const auto r = client()->Get("/healthz");
      if (r && json::parse(r->body)[field].get<int64_t>() == value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::unique_ptr<QTemporaryFile> log_file_;
  QProcess process_;
  int port_ = 0;
};

// A connection that speaks HTTP by hand, as a slow or hostile client does.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return connected_; }
  // False once the server has closed its side (it may stop reading a refused request).
  bool send(const std::string& bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // What the server sends until it closes the connection (or a minute passes).
  std::string read_to_close() {
    std::string got;
    char buf[65536];
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, 60000) > 0) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  bool has_news() {  // an answer or a close waiting to be read
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

 private:
  int fd_;
  bool connected_ = false;
};

int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string post_head(const std::string& path, const std::string& type, const std::string& length_header) {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + type + "\r\n" + length_header + "\r\n\r\n";
}

std::string chat_body(const std::string& image, const json& extra = json::object()) {
  json body = {
      {"model", "captioner"},
      {"messages",
       json::array({{{"role", "user"},
                     {"content", json::array({{{"type", "text"}, {"text", "Describe the picture."}},
                                              {{"type", "image_url"},
                                               {"image_url", {{"url", "data:image/png;base64," + base64(image)}}}}})}}})}};
  body.update(extra);
  return body.dump();
}

// The greedy caption of `image` through /caption, or the error body.
std::string caption_text(httplib::Client& client, const std::string& image) {
  const auto r = client.Post("/caption", image, "image/png");
  if (!r) return "no answer: " + httplib::to_string(r.error());
  if (r->status != 200) return "status " + std::to_string(r->status) + ": " + r->body;
  return json::parse(r->body)["generated_text"].get<std::string>();
}

}  // namespace

class TestServe : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString model_;
  std::vector<std::string> images_;    // PNG bytes of distinct scenes
  std::vector<std::string> expected_;  // `captioner caption`'s greedy caption of each
  QString first_image_;
  std::unique_ptr<Server> server_;  // default settings but a 2 MB body limit

  QString path(const QString& name) const { return dir_.path() + "/" + name; }

 private Q_SLOTS:
  void initTestCase() {
    std::string error;
    model_ = captioner::test::train_small_shapes_model(dir_.path(), &error);
    QVERIFY2(!model_.isEmpty(), error.c_str());
    const QString data = path("shapes");
    const QStringList files = QDir(data + "/images").entryList({"*.png"}, QDir::Files, QDir::Name);
    QVERIFY(files.size() >= 6);
    first_image_ = data + "/images/" + files[0];
    for (int i = 0; i < 6; ++i) {
      const QString file = data + "/images/" + files[i];
      images_.push_back(captioner::read_file(file.toStdString()));
      const auto c = run({"caption", "--json", "--model", model_, file});
      QVERIFY2(c.code == 0, c.err.c_str());
      expected_.push_back(json::parse(c.out)["captions"][0]["text"].get<std::string>());
    }
    server_ = std::make_unique<Server>(model_, QStringList{"--max-body-mb", "2"});
    QVERIFY2(server_->port() > 0, server_->log().c_str());
  }

  void endpoints_answer_in_their_shapes() {
    auto c = server_->client();
    auto r = c->Get("/healthz");
    QVERIFY(r && r->status == 200);
    QCOMPARE(json::parse(r->body)["model"].get<std::string>(), std::string("run"));
    r = c->Get("/v1/models");
    QVERIFY(r && r->status == 200);
    const auto models = json::parse(r->body);
    QCOMPARE(models["object"].get<std::string>(), std::string("list"));
    QCOMPARE(models["data"][0]["id"].get<std::string>(), std::string("run"));
    QCOMPARE(models["data"][0]["object"].get<std::string>(), std::string("model"));

    r = c->Post("/v1/chat/completions", chat_body(images_[0]), "application/json");
    QVERIFY(r && r->status == 200);
    QVERIFY(contains(r->get_header_value("Content-Type"), "application/json"));
    const auto chat = json::parse(r->body);
    QCOMPARE(chat["object"].get<std::string>(), std::string("chat.completion"));
    QVERIFY(chat["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
    QCOMPARE(chat["model"].get<std::string>(), std::string("run"));
    QCOMPARE(chat["choices"].size(), size_t{1});
    QCOMPARE(chat["choices"][0]["message"]["role"].get<std::string>(), std::string("assistant"));
    QVERIFY(chat["choices"][0]["finish_reason"] == "stop" || chat["choices"][0]["finish_reason"] == "length");
    QVERIFY(chat["usage"]["completion_tokens"].get<int>() >= 1);

    // Several sampled captions, and beam search's best n.
    r = c->Post("/v1/chat/completions", chat_body(images_[0], {{"temperature", 1.5}, {"n", 3}, {"seed", 4}}), "application/json");
    QVERIFY(r && r->status == 200);
    QCOMPARE(json::parse(r->body)["choices"].size(), size_t{3});
    r = c->Post("/caption?beam_width=4&n=2", images_[0], "image/png");
    QVERIFY(r && r->status == 200);
    QCOMPARE(json::parse(r->body).size(), size_t{2});

    // Server-sent events join to the same text. One caption is sent as it is decoded, so its
    // length is not known when the answer starts (chunked); several (n > 1) once all are done.
    for (const int n : {1, 2}) {
      r = c->Post("/v1/chat/completions", chat_body(images_[0], {{"stream", true}, {"n", n}}), "application/json");
      QVERIFY(r && r->status == 200);
      QVERIFY(contains(r->get_header_value("Content-Type"), "text/event-stream"));
      QCOMPARE(r->get_header_value("Transfer-Encoding") == "chunked", n == 1);
      QVERIFY(contains(r->body, "data: [DONE]"));
      std::string streamed;
      for (size_t at = 0; (at = r->body.find("data: {", at)) != std::string::npos; ++at) {
        const auto choice = json::parse(r->body.substr(at + 6, r->body.find("\n\n", at) - at - 6))["choices"][0];
        if (choice["index"] == 0 && choice["delta"].contains("content"))
          streamed += choice["delta"]["content"].get<std::string>();
      }
      if (n == 1) QCOMPARE(streamed, expected_[0]);
      if (n == 2) QVERIFY(!streamed.empty());
    }
    // A refused image is an error answer, not a broken stream.
    r = c->Post("/v1/chat/completions", chat_body("not a picture", {{"stream", true}}), "application/json");
    QVERIFY(r && r->status == 400);

    // Each word with its probability and its 8x8 map.
    r = c->Post("/caption?attention=1", images_[0], "image/png");
    QVERIFY(r && r->status == 200);
    const auto words = json::parse(r->body)["words"];
    QVERIFY(!words.empty());
    for (const auto& w : words) {
      QCOMPARE(w["attention"].size(), size_t{64});
      QVERIFY(w["probability"].get<double>() > 0 && w["probability"].get<double>() <= 1);
    }

    // The web page and its files, built into the binary.
    r = c->Get("/");
    QVERIFY(r && r->status == 200);
    QVERIFY(contains(r->get_header_value("Content-Type"), "text/html"));
    QVERIFY(contains(r->body, "<script src=\"/app.js\">"));
    for (const char* file : {"/app.js", "/style.css"}) {
      r = c->Get(file);
      QVERIFY2(r && r->status == 200 && !r->body.empty(), file);
    }
  }

  // Greedy answers are `captioner caption`'s, whichever way the image is sent.
  void greedy_answers_equal_the_cli() {
    auto c = server_->client();
    for (size_t i = 0; i < images_.size(); ++i) {
      QCOMPARE(caption_text(*c, images_[i]), expected_[i]);
      const auto chat = c->Post("/v1/chat/completions", chat_body(images_[i]), "application/json");
      QVERIFY(chat && chat->status == 200);
      QCOMPARE(json::parse(chat->body)["choices"][0]["message"]["content"].get<std::string>(), expected_[i]);
    }
    const httplib::MultipartFormDataItems form = {{"file", images_[1], "scene.png", "image/png"}};
    const auto multipart = c->Post("/caption", form);
    QVERIFY(multipart && multipart->status == 200);
    QCOMPARE(json::parse(multipart->body)["generated_text"].get<std::string>(), expected_[1]);
    const auto hf_json = c->Post("/caption", json{{"inputs", base64(images_[2])}}.dump(), "application/json");
    QVERIFY(hf_json && hf_json->status == 200);
    QCOMPARE(json::parse(hf_json->body)["generated_text"].get<std::string>(), expected_[2]);
  }

  // Requests batched together each get their own image's caption.
  void concurrent_clients_get_their_own_answers() {
    Server batching(model_, {"--max-batch", "8", "--max-wait-ms", "2000"});
    QVERIFY2(batching.port() > 0, batching.log().c_str());
    const int clients = 8;
    std::vector<std::string> answers(clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
      threads.emplace_back([&, i] { answers[i] = caption_text(*batching.client(), images_[i % images_.size()]); });
    for (auto& t : threads) t.join();
    for (int i = 0; i < clients; ++i) QCOMPARE(answers[i], expected_[i % images_.size()]);
    const auto health = json::parse(batching.client()->Get("/healthz")->body);
    QCOMPARE(health["captioned"].get<int>(), clients);
    QVERIFY2(health["batches"].get<int>() < clients, health.dump().c_str());  // some were encoded together
  }

  void two_hundred_requests_at_concurrency_8_all_succeed() {
    std::atomic<int> next{0}, failures{0};
    std::vector<std::string> wrong;
    std::mutex wrong_mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        auto c = server_->client();
        for (int i; (i = next++) < 200;) {
          const size_t image = static_cast<size_t>(i) % images_.size();
          const std::string got = caption_text(*c, images_[image]);
          if (got != expected_[image]) {
            ++failures;
            std::lock_guard<std::mutex> lock(wrong_mutex);
            wrong.push_back(got);
          }
        }
      });
    for (auto& t : threads) t.join();
    QVERIFY2(failures == 0, (std::to_string(failures) + " failures, e.g. " + (wrong.empty() ? "" : wrong[0])).c_str());
  }

  // Every bad request gets a 4xx in OpenAI's error shape, a log line, and the server carries on.
  void bad_requests_get_4xx_and_the_server_carries_on() {
    std::string jpeg_cut;  // a JPEG without its end: libjpeg would fill the rest with grey
    {
      const std::string png = images_[0];
      const QImage image = QImage::fromData(QByteArray::fromStdString(png));
      QByteArray bytes;
      QBuffer buffer(&bytes);
      QVERIFY(image.save(&buffer, "JPG"));
      jpeg_cut = bytes.left(bytes.size() / 2).toStdString();
    }
    std::string bomb = images_[0];  // a PNG header claiming 30000 x 30000 pixels
    for (int i : {16, 20}) bomb.replace(static_cast<size_t>(i), 4, std::string("\x00\x00\x75\x30", 4));

    struct Case {
      const char* name;
      const char* method;
      std::string path, body, type;
      int status;
    };
    const std::string chat = "/v1/chat/completions";
    const std::vector<Case> cases = {
        {"not JSON", "POST", chat, "{not json", "application/json", 400},
        {"JSON not an object", "POST", chat, "[1,2]", "application/json", 400},
        {"no messages", "POST", chat, "{\"model\": \"x\"}", "application/json", 400},
        {"no image", "POST", chat, json{{"messages", {{{"role", "user"}, {"content", "hello"}}}}}.dump(), "application/json",
         400},
        {"remote image URL", "POST", chat,
         json{
             {"messages",
              {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "http://example.com/a.png"}}}}}}}}}}
             .dump(),
         "application/json", 400},
        {"bad base64", "POST", chat,
         json{{"messages",
               {{{"role", "user"},
                 {"content", {{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,%%%%"}}}}}}}}}}
             .dump(),
         "application/json", 400},
        {"not an image", "POST", chat, chat_body("this is text, not a picture"), "application/json", 400},
        {"truncated PNG", "POST", "/caption", images_[0].substr(0, images_[0].size() / 2), "image/png", 400},
        {"truncated JPEG", "POST", "/caption", jpeg_cut, "image/jpeg", 400},
        {"too many pixels", "POST", "/caption", bomb, "image/png", 400},
        {"empty body", "POST", "/caption", "", "image/png", 400},
        {"bad parameter", "POST", "/caption?n=0", images_[0], "image/png", 400},
        {"bad number", "POST", "/caption?temperature=warm", images_[0], "image/png", 400},
        {"n too large", "POST", chat, chat_body(images_[0], {{"n", 1000}}), "application/json", 400},
        {"body over the limit", "POST", "/caption", std::string(3 << 20, 'x'), "image/png", 413},
        {"wrong method", "GET", chat, "", "", 405},
        {"wrong method", "DELETE", "/caption", "", "", 405},
        {"unknown path", "GET", "/v2/nothing", "", "", 404},
        {"unknown path", "POST", "/v1/completions", "{}", "application/json", 404},
    };
    for (const auto& k : cases) {
      auto c = server_->client();
      httplib::Result r = std::string(k.method) == "GET"      ? c->Get(k.path)
                          : std::string(k.method) == "DELETE" ? c->Delete(k.path)
                                                              : c->Post(k.path, k.body, k.type);
      const std::string what = std::string(k.name) + " (" + k.method + " " + k.path + ")";
      QVERIFY2(r, (what + ": no answer").c_str());
      QVERIFY2(r->status == k.status, (what + ": status " + std::to_string(r->status) + " " + r->body).c_str());
      const auto error = json::parse(r->body, nullptr, false);
      QVERIFY2(!error.is_discarded() && error["error"]["message"].is_string() && error["error"]["type"].is_string() &&
                   error["error"].contains("code"),
               (what + ": " + r->body).c_str());
      const std::string logged = " " + std::to_string(k.status) + " " + k.method + " " + k.path.substr(0, k.path.find('?'));
      QVERIFY2(contains(server_->log(), logged), (what + ": not logged").c_str());
    }
    QCOMPARE(caption_text(*server_->client(), images_[3]), expected_[3]);  // still serving
    QCOMPARE(server_->process().state(), QProcess::Running);
  }

  void token_is_required_when_set() {
    Server guarded(model_, {"--token", "open-sesame"});
    QVERIFY2(guarded.port() > 0, guarded.log().c_str());
    auto c = guarded.client();
    auto r = c->Post("/caption", images_[0], "image/png");
    QVERIFY(r && r->status == 401);
    QCOMPARE(r->get_header_value("WWW-Authenticate"), std::string("Bearer"));
    QCOMPARE(json::parse(r->body)["error"]["type"].get<std::string>(), std::string("authentication_error"));
    c->set_bearer_token_auth("open-sesamE");
    QCOMPARE(c->Get("/v1/models")->status, 401);
    c->set_bearer_token_auth("open-sesame");
    QCOMPARE(caption_text(*c, images_[0]), expected_[0]);
    QCOMPARE(c->Get("/v1/models")->status, 200);
    auto anonymous = guarded.client();  // health checks and the page need no token
    QCOMPARE(anonymous->Get("/healthz")->status, 200);
    QCOMPARE(anonymous->Get("/")->status, 200);
  }

  void a_full_queue_answers_503() {
    Server small(model_, {"--max-queue", "1", "--max-wait-ms", "3000"});
    QVERIFY2(small.port() > 0, small.log().c_str());
    std::string first;
    std::thread waiting([&] { first = caption_text(*small.client(), images_[0]); });
    QVERIFY(small.wait_for("pending", 1));  // the first request holds the only place
    const auto r = small.client()->Post("/caption", images_[1], "image/png");
    waiting.join();
    QVERIFY(r);
    QCOMPARE(r->status, 503);
    QCOMPARE(r->get_header_value("Retry-After"), std::string("1"));
    QCOMPARE(json::parse(r->body)["error"]["code"].get<std::string>(), std::string("queue_full"));
    QCOMPARE(first, expected_[0]);
  }

  // More clients trickling their headers than the server has workers: the others are served
  // while they trickle (they wait in the epoll loop, not on workers).
  void slow_clients_never_hold_every_worker() {
    Server server(model_, {"--max-queue", "1", "--header-timeout", "120"});  // 9 workers
    QVERIFY2(server.port() > 0, server.log().c_str());
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < 40; ++i) {
      slow.push_back(std::make_unique<RawConnection>(server.port()));
      QVERIFY(slow.back()->connected() && slow.back()->send("POST /caption HTTP/1.1\r\nHost: x\r\n"));
    }
    for (auto& s : slow) QVERIFY(s->send("X"));  // one byte more each, the request still unfinished
    QCOMPARE(caption_text(*server.client(), images_[0]), expected_[0]);
    const auto health = server.client()->Get("/healthz");
    QVERIFY(health && health->status == 200);
    for (auto& s : slow) QVERIFY(!s->has_news());  // all still waiting: none was answered or dropped
  }

  void headers_that_never_finish_get_408_and_a_close() {
    Server server(model_, {"--header-timeout", "1"});
    QVERIFY2(server.port() > 0, server.log().c_str());
    RawConnection unfinished(server.port());
    RawConnection silent(server.port());
    QVERIFY(unfinished.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    const std::string answer = unfinished.read_to_close();
    QVERIFY2(answer.rfind("HTTP/1.1 408 ", 0) == 0, answer.c_str());
    QVERIFY(contains(answer, "Content-Length: ") && contains(answer, "Connection: close"));
    QCOMPARE(silent.read_to_close(), std::string());  // a connection that never sent a byte just closes
    QVERIFY2(contains(server.log(), "serve: 408 from 127.0.0.1: the request's headers did not arrive within 1 s"),
             server.log().c_str());
    RawConnection huge(server.port());  // headers with no end
    huge.send("GET / HTTP/1.1\r\nX-Long: " + std::string(70 << 10, 'a'));
    QVERIFY(huge.read_to_close().rfind("HTTP/1.1 431 ", 0) == 0);
  }

  // Over --max-body-mb (2 here), chunked or not: one 413 with its length, then the connection
  // closes; the body's bytes are never read as further requests.
  void request_bodies_are_bounded_chunked_or_not() {
    std::string chunked;
    for (int i = 0; i < 48; ++i) chunked += "10000\r\n" + std::string(0x10000, 'G') + "\r\n";  // 3 MB
    chunked += "0\r\n\r\n";
    const std::string requests = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string looks_like_requests;
    while (looks_like_requests.size() < (3u << 20)) looks_like_requests += requests;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {post_head("/caption", "image/png", "Transfer-Encoding: chunked"), chunked},
        {post_head("/caption", "image/png", "Content-Length: " + std::to_string(looks_like_requests.size())),
         looks_like_requests},
    };
    for (const auto& [head, body] : cases) {
      RawConnection c(server_->port());
      QVERIFY(c.send(head));
      c.send(body);  // the server may stop reading it
      const std::string answer = c.read_to_close();
      QVERIFY2(answer.rfind("HTTP/1.1 413 ", 0) == 0, answer.substr(0, 300).c_str());
      QVERIFY(contains(answer, "Content-Length: ") && contains(answer, "Connection: close"));
      QCOMPARE(count_of(answer, "HTTP/1.1 "), 1);
    }
    // A malformed form's unread rest: one 400, then a close (14 answers before).
    const std::string form = "not a boundary\r\n" + requests + requests + requests;
    RawConnection c(server_->port());
    QVERIFY(c.send(post_head("/caption", "multipart/form-data; boundary=xyz", "Content-Length: " + std::to_string(form.size())) +
                   form));
    const std::string answer = c.read_to_close();
    QVERIFY2(answer.rfind("HTTP/1.1 400 ", 0) == 0, answer.c_str());
    QCOMPARE(count_of(answer, "HTTP/1.1 "), 1);
    QVERIFY(contains(answer, "Content-Length: "));
  }

  // --max-in-flight-mb bounds the bodies of all requests together: past it, 503 with Retry-After.
  void bodies_in_flight_share_a_budget() {
    Server server(model_, {"--max-body-mb", "1", "--max-in-flight-mb", "1"});
    QVERIFY2(server.port() > 0, server.log().c_str());
    const size_t size = 900000;
    RawConnection first(server.port());
    QVERIFY(first.send(post_head("/caption", "image/png", "Content-Length: " + std::to_string(size)) + std::string(600000, 'a')));
    bool read = false;  // until the server has read what the first client sent
    for (int i = 0; i < 6000 && !read; ++i) {
      const auto r = server.client()->Get("/healthz");
      read = r && json::parse(r->body)["body_bytes_in_flight"].get<size_t>() >= 600000;
      if (!read) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    QVERIFY(read);
    RawConnection second(server.port());
    QVERIFY(second.send(post_head("/caption", "image/png", "Content-Length: " + std::to_string(size))));
    second.send(std::string(size, 'b'));
    const std::string refused = second.read_to_close();
    QVERIFY2(refused.rfind("HTTP/1.1 503 ", 0) == 0, refused.substr(0, 300).c_str());
    QVERIFY(contains(refused, "Retry-After: 1") && contains(refused, "Content-Length: "));
    QVERIFY(first.send(std::string(size - 600000, 'a')));  // the first finishes: read and answered
    const std::string answered = first.read_to_close();
    QVERIFY2(answered.rfind("HTTP/1.1 400 ", 0) == 0, answered.substr(0, 300).c_str());  // not an image
    QVERIFY(contains(answered, "not a readable image") || contains(answered, "image"));
  }

  // The path a connection's bytes take, without the network (the fuzzer's entry): pipelined
  // requests are answered in order, and a chunked body over the limit is refused.
  void the_request_path_answers_pipelined_requests_in_order() {
    captioner::ConnectionLimits limits;
    limits.workers = 1;
    limits.max_body_bytes = 1000;
    captioner::GuardedHttpServer http(limits, [](const std::string&) {});
    http.Get("/a", [](const httplib::Request&, httplib::Response& res) { res.set_content("first", "text/plain"); });
    http.Post("/b", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    const std::string answers = http.answer_connection(
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /a HTTP/1.1\r\n\r\n");
    QCOMPARE(count_of(answers, "HTTP/1.1 200 OK"), 3);
    QVERIFY(answers.find("first") < answers.find("\r\n\r\n5") && answers.find("\r\n\r\n5") < answers.rfind("first"));
    const std::string too_long = http.answer_connection(
        "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" + std::string(0x4000, 'z') + "\r\n0\r\n\r\n");
    QVERIFY2(too_long.rfind("HTTP/1.1 400 ", 0) == 0, too_long.c_str());  // httplib's status; the service's handler makes it 413
  }

  void sigterm_answers_requests_in_flight_then_exits_0() {
    Server stopping(model_, {"--max-wait-ms", "3000"});
    QVERIFY2(stopping.port() > 0, stopping.log().c_str());
    std::string answer;
    std::thread in_flight([&] { answer = caption_text(*stopping.client(), images_[2]); });
    QVERIFY(stopping.wait_for("pending", 1));
    stopping.process().terminate();
    QVERIFY(stopping.process().waitForFinished(30000));
    in_flight.join();
    QCOMPARE(answer, expected_[2]);
    QCOMPARE(stopping.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(stopping.process().exitCode(), 0);
    QVERIFY2(contains(stopping.log(), "SIGTERM"), stopping.log().c_str());
  }

  void bad_starts_are_refused_clearly() {
    const auto missing = run({"serve", "--model", path("no_such_run"), "--port", "0"});
    QCOMPARE(missing.code, 1);
    QVERIFY2(contains(missing.err, "no_such_run"), missing.err.c_str());
    const auto taken = run({"serve", "--model", model_, "--port", QString::number(server_->port())}, 60000);
    QCOMPARE(taken.code, 1);
    QVERIFY2(contains(taken.err, "cannot listen on 127.0.0.1:" + std::to_string(server_->port())), taken.err.c_str());
  }

  // The official clients, as their users call them, against a server with a token.
  void official_openai_and_hugging_face_clients_work_unmodified() {
#ifndef CAPTIONER_CLIENT_TEST
    QSKIP("Node.js was not found when the build was configured (packaging/quickstart.sh test installs it)");
#else
    const QString dir = QStringLiteral(CAPTIONER_CLIENT_TEST);
    if (!QFileInfo::exists(dir + "/node_modules/openai"))
      QFAIL(qPrintable("the clients are not installed: run npm ci in " + dir));
    Server guarded(model_, {"--token", "client-test-token"});
    QVERIFY2(guarded.port() > 0, guarded.log().c_str());
    QProcess node;
    node.start("node", {dir + "/clients_test.mjs", QString("http://127.0.0.1:%1/").arg(guarded.port()), "client-test-token",
                        first_image_, QStringLiteral("run"), QString::fromStdString(expected_[0])});
    QVERIFY(node.waitForFinished(180000));
    const QString output = node.readAllStandardOutput() + node.readAllStandardError();
    qInfo("%s", qPrintable(output.trimmed()));
    QVERIFY2(node.exitStatus() == QProcess::NormalExit && node.exitCode() == 0,
             qPrintable(output + "\n" + QString::fromStdString(guarded.log())));
#endif
  }

  // The page in Debian's Chromium: upload an image, the caption appears, a word shows its map.
  void page_captions_an_image_in_headless_chromium() {
#ifndef CAPTIONER_PAGE_TEST
    QSKIP("Chromium or Node.js was not found when the build was configured (packaging/quickstart.sh test installs them)");
#else
    const QString dir = QStringLiteral(CAPTIONER_PAGE_TEST);
    if (!QFileInfo::exists(dir + "/node_modules/playwright-core"))
      QFAIL(qPrintable("playwright-core is not installed: run npm ci in " + dir));
    QStringList args = {dir + "/page_test.js", QString("http://127.0.0.1:%1/").arg(server_->port()), first_image_,
                        QString::fromStdString(expected_[0])};
    const QString shots = qEnvironmentVariable("CAPTIONER_SCREENSHOTS");
    if (!shots.isEmpty()) args << shots + "/web-page.png";
    QProcess node;
    node.start("node", args);
    QVERIFY(node.waitForFinished(120000));
    const QString output = node.readAllStandardOutput() + node.readAllStandardError();
    QVERIFY2(node.exitStatus() == QProcess::NormalExit && node.exitCode() == 0, qPrintable(output));
#endif
  }
};

QTEST_MAIN(TestServe)
#include "test_serve.moc"
