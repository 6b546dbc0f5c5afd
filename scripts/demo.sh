#!/usr/bin/env bash
# `make demo`: build a bank from generated benign sample posters, scan edited copies
# mixed with unrelated images, and show what matched and why.  Uses the embedded
# SQLite store in ./demo-home (removed and rebuilt on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export CROSSMATCH_HOME="$PWD/demo-home"
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
cm scan "$CROSSMATCH_HOME/samples/incoming" --json | head -n 2
