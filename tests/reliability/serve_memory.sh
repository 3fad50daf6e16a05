#!/usr/bin/env bash
# The service's peak memory under many large requests at once: CLIENTS concurrent chat
# completions, each carrying a data URL of MB megabytes (under --max-body-mb 20), against a server
# with the default --max-in-flight-mb, then against one whose budget is too large to matter (the
# bound off), each a fresh process. Prints each server's peak resident memory (VmHWM) and how its
# requests were answered.
#   tests/reliability/serve_memory.sh CAPTIONER [CLIENTS] [MB] [WORK_DIR]
set -euo pipefail
captioner="$(realpath "$1")"
clients="${2:-40}"
mb="${3:-18.7}"
work="${4:-$(mktemp -d)}"
mkdir -p "$work"
if [[ ! -f "$work/run/checkpoint.pt" ]]; then
  "$captioner" shapes --out "$work/data" --count 40 --seed 1 >/dev/null
  "$captioner" train --data "$work/data" --out "$work/run" --steps 20 --quiet >/dev/null
fi

measure() {
  local label="$1"; shift
  "$captioner" serve --model "$work/run" --port 0 "$@" >"$work/serve.out" 2>"$work/serve.err" &
  local pid=$!
  until grep -q 'http://' "$work/serve.out" 2>/dev/null; do sleep 0.2; done
  local port
  port="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" | head -1 | cut -d: -f3)"
  echo "  peak memory once started: $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")"
  python3 - "$port" "$clients" "$mb" <<'PY'
import base64, collections, http.client, json, os, sys, threading
port, clients, mb = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
image = b"\x89PNG\r\n\x1a\n" + os.urandom(int(mb * 1e6 * 3 / 4) - 8)  # base64 makes it mb MB
url = "data:image/png;base64," + base64.b64encode(image).decode()
body = json.dumps({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]})
answers = collections.Counter()
def one():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        answers[c.getresponse().status] += 1
    except Exception as e:
        answers[type(e).__name__] += 1
threads = [threading.Thread(target=one) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print("  answers:", dict(answers))
PY
  echo "  peak memory after the requests: $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")"
  kill -TERM "$pid"
  wait "$pid" || true
}

echo "$clients requests of $mb MB at once, --max-in-flight-mb 160 (the default):"
measure default
echo "the same, --max-in-flight-mb 65536 (no bound in practice):"
measure unbounded --max-in-flight-mb 65536
