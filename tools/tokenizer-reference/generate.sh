#!/usr/bin/env bash
# Regenerates tests/data/tokenizer/ from Hugging Face's JavaScript implementations (independent of the Rust
# tokenizers the runtime binds): the parity corpus with its expected ids, and the chat-template renderings.
# Needs node and npm; the tokenizer files come from tools/fetch-test-data.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/fetch-test-data.sh
work=artifacts/tokenizer-reference
mkdir -p "$work" tests/data/tokenizer
cp tools/tokenizer-reference/package.json "$work/"
(cd "$work" && npm install --silent --no-audit --no-fund >/dev/null)
for f in corpus.mjs expected-ids.mjs chat-renderings.mjs; do cp "tools/tokenizer-reference/$f" "$work/"; done
tok=artifacts/test-data/qwen3-tokenizer
# gzip -n: no name or time in the header, so the same corpus gives the same bytes (about 70 KB instead of 515 KB:
# the repository and the GPU check pack share a 64 MiB budget).
node "$work/expected-ids.mjs" "$tok" | gzip -9n > tests/data/tokenizer/qwen3-parity.jsonl.gz
node "$work/chat-renderings.mjs" "$tok" > tests/data/tokenizer/qwen3-chat.json
gzip -dc tests/data/tokenizer/qwen3-parity.jsonl.gz | wc -l
