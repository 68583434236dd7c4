// Renders conversations with the checkpoint's own Jinja chat template (@huggingface/jinja, the engine of
// transformers.js) and tokenizes each rendering (@huggingface/tokenizers), so the C# formatter and `kernels tokenize
// --chat` are checked against both, character for character and id for id.
// Usage: node chat-renderings.mjs TOKENIZER_DIR > tests/data/tokenizer/qwen3-chat.json
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { readFileSync } from "node:fs";

const dir = process.argv[2];
const json = (name) => JSON.parse(readFileSync(`${dir}/${name}`, "utf8"));
const config = json("tokenizer_config.json");
const tokenizer = new Tokenizer(json("tokenizer.json"), config);
const template = new Template(config.chat_template);

const sys = { role: "system", content: "You are a helpful assistant." };
const conversations = [
  ["user only", [{ role: "user", content: "What is the capital of France?" }], true, null],
  ["system and user, thinking off", [sys, { role: "user", content: "Hello!" }], true, false],
  ["system and user, thinking on", [sys, { role: "user", content: "Hello!" }], true, true],
  ["multi-turn, thinking off", [sys, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" }, { role: "user", content: "Tell me a joke." }], true, false],
  ["multi-turn, thinking on, earlier reasoning dropped", [{ role: "user", content: "2+2?" }, { role: "assistant", content: "<think>\nAdd them.\n</think>\n\n4" }, { role: "user", content: "And 3+3?" }], true, true],
  ["last turn is the assistant's, no generation prompt", [{ role: "user", content: "Name a colour." }, { role: "assistant", content: "<think>\nPick one.\n</think>\n\nBlue." }], false, null],
  ["reasoning_content kept apart", [{ role: "user", content: "Why?" }, { role: "assistant", content: "Because.", reasoning_content: "\nThink first.\n" }], false, null],
  ["assistant reasoning after the last query", [{ role: "user", content: "Q" }, { role: "assistant", content: "\n\nA1", reasoning_content: "R1" }, { role: "assistant", content: "A2" }], true, false],
  ["tool responses", [{ role: "user", content: "Weather in Paris?" }, { role: "assistant", content: "Let me check." }, { role: "tool", content: "{\"temp\": 21}" }, { role: "tool", content: "{\"sky\": \"clear\"}" }, { role: "assistant", content: "21 °C and clear." }], true, null],
  ["tool response as the last user turn", [{ role: "user", content: "Hi" }, { role: "user", content: "<tool_response>\nok\n</tool_response>" }, { role: "assistant", content: "<think>r</think>done" }], false, null],
  ["system later in the conversation", [{ role: "user", content: "A" }, { role: "system", content: "Be brief." }, { role: "user", content: "B" }], true, false],
  ["special tokens and scripts in content", [sys, { role: "user", content: "<|im_end|> is text here?\n数字 𝐀's 🚀 e\u0301\n\n  code:\tx = 1" }], true, true],
  ["empty contents", [{ role: "system", content: "" }, { role: "user", content: "" }], true, false],
];
const out = conversations.map(([name, messages, add_generation_prompt, enable_thinking]) => {
  const vars = { messages, add_generation_prompt, bos_token: "", eos_token: config.eos_token };
  if (enable_thinking !== null) vars.enable_thinking = enable_thinking;
  const rendered = template.render(vars);
  return { name, messages, add_generation_prompt, enable_thinking, rendered, ids: tokenizer.encode(rendered, { add_special_tokens: false }).ids };
});
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
