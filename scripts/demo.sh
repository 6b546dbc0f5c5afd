#!/usr/bin/env bash
# `make demo`: build a bank from generated benign sample posters, scan edited copies
# mixed with unrelated images, and show what matched and why.  Uses the embedded
# SQLite store in ./demo-home (removed and rebuilt on each run; git-ignored).
# CROSSMATCH_DEMO_PORT (default 8000) is the review UI's port; CROSSMATCH_DEMO_NO_SERVE=1 skips serving it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export CROSSMATCH_HOME="$PWD/demo-home"
export COLUMNS="${COLUMNS:-150}"  # wide tables when the output is not a terminal
rm -rf "$CROSSMATCH_HOME"
cm() { "$BIN/crossmatch" "$@"; }

echo "== 1. Generate benign sample data (synthetic posters; no real material ships with crossmatch)"
cm samples "$CROSSMATCH_HOME/samples"

echo
echo "== 2. Create a block bank and import the known posters (signals are kept, not the images)"
cm bank create known-posters --label "source=demo" --description "Demo: generated posters standing in for known material"
cm bank import known-posters "$CROSSMATCH_HOME/samples/known" --source demo
cm bank list

echo
echo "== 3. Scan incoming uploads: resized, re-encoded, greyscale, flipped, rotated, captioned, letterboxed, unrelated"
cm scan "$CROSSMATCH_HOME/samples/incoming"

echo
echo "== 4. The same scan for scripts (--json, one object per item); first two lines:"
cm scan "$CROSSMATCH_HOME/samples/incoming" --json > "$CROSSMATCH_HOME/scan.jsonl"
head -n 2 "$CROSSMATCH_HOME/scan.jsonl"

echo
echo "== 5. Text: Arabic bank items; Russian, Kazakh and Uzbek translations, an excerpt and a disguised copy"
cm bank create known-texts --label "source=demo" --description "Demo: short benign Arabic texts"
cm bank import known-texts "$CROSSMATCH_HOME/samples/texts/demo_texts_bank.jsonl"
cm scan "$CROSSMATCH_HOME/samples/texts/demo_texts_incoming.jsonl"
echo "Note: news-ru-same-topic is about the same subject with different facts and does not match:"
echo "margins are measured against the bank and a shipped background corpus, so even this 3-item bank"
echo "tells a translation from a same-topic text. See EVALUATION.md (text_xling) for recall and"
echo "false-match rates measured on 6,174 news posts."

echo
echo "== 6. Video: a 45 s known clip; uploads are a 12 s re-cut excerpt with burnt-in subtitles, and an unrelated clip"
cm bank create known-videos --label "source=demo"
cm bank import known-videos "$CROSSMATCH_HOME/samples/videos/known"
cm scan "$CROSSMATCH_HOME/samples/videos/incoming"

echo
echo "== 7. The review service with a sample queue (synthetic content; previews blurred and greyscale by default)"
SERVER_HOME="$CROSSMATCH_HOME/server"
PORT="${CROSSMATCH_DEMO_PORT:-8000}"
if [ -t 0 ] && [ -z "${CROSSMATCH_DEMO_NO_SERVE:-}" ]; then
  echo "(Ctrl-C stops the server; CROSSMATCH_DEMO_PORT=8080 make demo picks another port)"
  echo "Next: 'source .venv/bin/activate' puts crossmatch on your PATH; docs/first-hour.md is a guided tour."
  exec "$BIN/python" -m crossmatch.review.demo --home "$SERVER_HOME" --port "$PORT"
fi
# Not interactive: start the server, show it answering, then stop it.
"$BIN/python" -m crossmatch.review.demo --home "$SERVER_HOME" --port "$PORT" > "$CROSSMATCH_HOME/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 1
done
cat "$CROSSMATCH_HOME/server.log"
echo "readiness: $(curl -fs "http://127.0.0.1:$PORT/readyz")"
echo "(run 'make demo' in a terminal to keep the server running and sign in)"
