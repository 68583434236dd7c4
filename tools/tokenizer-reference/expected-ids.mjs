// Writes the parity corpus with the ids Hugging Face's JavaScript tokenizer (@huggingface/tokenizers, the
// tokenizer of transformers.js) gives for each string: one JSON object per line, {"class", "text", "ids"}.
// Usage: node expected-ids.mjs TOKENIZER_DIR | gzip -9n > tests/data/tokenizer/qwen3-parity.jsonl.gz
import { Tokenizer } from "@huggingface/tokenizers";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const dir = process.argv[2];
const json = (name) => JSON.parse(readFileSync(`${dir}/${name}`, "utf8"));
const tokenizer = new Tokenizer(json("tokenizer.json"), json("tokenizer_config.json"));
const corpus = JSON.parse(execFileSync(process.execPath, [new URL("corpus.mjs", import.meta.url).pathname], { maxBuffer: 1 << 28 }));
for (const { class: cls, text } of corpus) {
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  process.stdout.write(JSON.stringify({ class: cls, text, ids }) + "\n");
}
