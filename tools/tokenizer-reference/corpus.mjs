// The tokenizer parity corpus: varied strings made from a fixed seed, so the file is reproducible.
// Each class the issue names has its own generator; `classOf` tags every string so a failure says which class broke.
const seed = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 0x12345678];
function rng() {
  // xoshiro128** (deterministic across Node versions, unlike Math.random)
  const r = Math.imul(rotl(Math.imul(seed[1], 5), 7), 9) >>> 0;
  const t = seed[1] << 9;
  seed[2] ^= seed[0]; seed[3] ^= seed[1]; seed[1] ^= seed[2]; seed[0] ^= seed[3];
  seed[2] ^= t; seed[3] = rotl(seed[3], 11);
  return r / 4294967296;
}
function rotl(x, k) { return ((x << k) | (x >>> (32 - k))) >>> 0; }
const int = (n) => Math.floor(rng() * n);
const pick = (a) => a[int(a.length)];
const cp = (c) => String.fromCodePoint(c);
const range = (lo, hi) => cp(lo + int(hi - lo + 1));

const prose = [
  "The quick brown fox jumps over the lazy dog.",
  "Qwen3-Next is a hybrid of Gated DeltaNet and gated attention; it routes each token to 10 of 512 experts.",
  "It's 5 o'clock somewhere, isn't it? We'll see—they've said they'd call.",
  "Der schnelle braune Fuchs springt über den faulen Hund. Straße, Grüße, Öl.",
  "Le cœur a ses raisons que la raison ne connaît point. L'été dernier, j'ai vu l'océan.",
  "El niño comió paella en la playa; ¿qué más? ¡Olé!",
  "Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
  "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق",
  "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
  "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम",
  "আমি বাংলায় গান গাই। ১২৩৪৫ টাকা।",
  "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்",
  "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
  "我能吞下玻璃而不伤身体。中文字符和标点，测试一下！",
  "いろはにほへと ちりぬるを わかよたれそ つねならむ。カタカナ、ひらがな、漢字。",
  "다람쥐 헌 쳇바퀴에 타고파. 한국어 문장입니다.",
  "Tiếng Việt có dấu: Đường đi khó không khó vì ngăn sông cách núi.",
  "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul'da ılık bir gün.",
  "ქართული ენა ძალიან ლამაზია.",
  "Բարեւ աշխարհ, հայերեն տեքստ։",
  "ሰማይ አይታረስ ንጉሥ አይከሰስ።",
  "မြန်မာဘာသာ စမ်းသပ်ချက်",
  "ខ្ញុំអាចញ៉ាំកញ្ចក់បាន ដោយគ្មានបញ្ហា",
  "Mǎ mà mā má — tones in pīnyīn; Ångström, naïve café, façade, jalapeño.",
  "Ꭰ Ꭱ Ꭲ — Cherokee; ᚠᚢᚦᚨᚱᚲ — runes; ⴰⵣⵓⵍ — Tifinagh.",
];
const code = [
  "def main():\n    print(\"hello\")\n\nif __name__ == '__main__':\n    main()\n",
  "public static int Add(int a, int b) => a + b;\n// TODO: overflow?\n",
  "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
  "const f = async (x) => { await g(x?.y ?? 0); return `${x}`; };",
  "fn main() -> Result<(), Box<dyn Error>> {\n    let v: Vec<u8> = vec![0xFF; 16];\n    Ok(())\n}",
  "{\"name\": \"qwen\", \"layers\": 48, \"rope_theta\": 1e7, \"ids\": [1, 2, 3]}",
  "<html><body class=\"x\">&amp; &lt;tag&gt; &#x1F600;</body></html>",
  "SELECT id, COUNT(*) FROM t WHERE name LIKE '%a_b%' GROUP BY id HAVING COUNT(*) > 1;",
  "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.cu; do nvcc -arch=sm_90 \"$f\"; done\n",
  "x = [i**2 for i in range(10) if i % 3 != 0]  # squares\r\n",
  "__global__ void k(float* __restrict__ y) { y[threadIdx.x] = __expf(-y[threadIdx.x]); }",
  "  \t  return;\n\n\n}\n",
  "a+=1;b-=2;c*=3;d/=4;e%=5;f<<=6;g>>=7;h&&=i||j;",
  "regex: (?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}",
];
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'M", "’s", "'x", "'"];
const bases = ["I", "don", "we", "they", "she", "it", "John", "é", "字", "5", "2024", "𝐀", "𝟎", "𐐀", "𠀀", "ſ", " ", "\n", "", "ß", "Ω", "_", "x1", "👍"];
const supplementaryLetters = [[0x1D400, 0x1D6A3], [0x10330, 0x1034A], [0x10400, 0x1044F], [0x20000, 0x2A6DF], [0x1E900, 0x1E943], [0x10300, 0x1031F], [0x10000, 0x1000B], [0x16A40, 0x16A5E], [0x11003, 0x11037]];
const supplementaryDigits = [[0x1D7CE, 0x1D7FF], [0x104A0, 0x104A9], [0x1E950, 0x1E959], [0x11066, 0x1106F], [0x16A60, 0x16A69], [0x1F100, 0x1F10A], [0x10107, 0x10133]];
const emoji = ["😀", "🚀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "#️⃣", "❤️", "☺︎", "🫠", "🧑🏿‍💻", "🐈‍⬛", "🤌", "🀄", "🃏", "𝄞", "🜁"];
const combining = ["\u0301", "\u0300", "\u0308", "\u0338", "\u0323", "\u0302\u0323", "\u20DD", "\u0489", "\u05B4", "\u0E31", "\u093F", "\u1AB0", "\u1DC0", "\uFE0F", "\u200D", "\u034F"];
const controls = ["\u0000", "\u0001", "\u0007", "\b", "\t", "\u000B", "\f", "\r", "\u001B", "\u001F", "\u007F", "\u0080", "\u0085", "\u009F", "\u00AD", "\u200B", "\u200C", "\u200E", "\u202E", "\u2028", "\u2029", "\u2060", "\uFEFF", "\uFFFE", "\uFFFF", "\uFFFD", "\uFFF9", "\u{E0001}", "\u{E0041}", "\u{F0000}", "\u{10FFFF}", "\u{1FFFE}"];
const spaces = [" ", "  ", "\t", "\n", "\r\n", "\u00A0", "\u3000", "\u2003", "\u202F", "\u1680", "\n\n", " \n ", "\t\t\n"];
const specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|box_end|>", "<|quad_start|>", "<|vision_pad|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"];
const nearSpecials = ["<|im_start", "im_end|>", "<|im_start |>", "<think", "</think >", "< think>", "<|IM_END|>", "<<|im_end|>>", "<|endoftext|", "<tool_call/>"];
const numbers = ["0", "7", "42", "2026", "3.14159", "-17", "1,000,000", "1e-9", "6.022e23", "0x7FFF_FFFF", "+1 (555) 010-9999", "٣٤٥", "४२", "１２３", "²³", "½", "Ⅻ", "①②", "໓", "፲", "𝟙𝟚𝟛", "𐒠𐒡", "10⁻⁶", "99.9%", "$1.50", "€2,50", "12:30:59"];
const words = ["a", "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "Donaudampfschifffahrtsgesellschaftskapitän", "antidisestablishmentarianism", "Llanfairpwllgwyngyll"];

const out = [];
const add = (cls, s) => { if (s.length > 0) out.push({ class: cls, text: s }); };
const join = (parts) => parts.join("");

for (const p of prose) { add("prose", p); add("nfd", p.normalize("NFD")); add("prose", p.toUpperCase()); add("prose", " " + p + "\n"); }
for (let i = 0; i < 160; i++) add("prose", join(Array.from({ length: 1 + int(4) }, () => pick(prose).slice(0, 10 + int(60)) + pick([" ", "\n", ". ", ", ", "", "\t"]))));
for (const c of code) { add("code", c); add("code", c.replace(/\n/g, "\r\n")); add("code", c.replace(/    /g, "\t")); }
for (let i = 0; i < 120; i++) add("code", join(Array.from({ length: 2 + int(3) }, () => pick(code).slice(int(20), 20 + int(80)))));
for (let i = 0; i < 160; i++) add("whitespace", join(Array.from({ length: 1 + int(6) }, () => rng() < 0.5 ? pick(spaces).repeat(1 + int(12)) : pick(["x", "word", "1", "!", "é", "字", "𝐀"]))));
for (const s of spaces) { add("whitespace", s); add("whitespace", s.repeat(7)); add("whitespace", "a" + s + "b"); add("whitespace", s + "a" + s); }
for (const n of numbers) { add("numbers", n); add("numbers", " " + n); add("numbers", "x" + n + "y"); add("numbers", n + "'s"); }
for (let i = 0; i < 120; i++) add("numbers", join(Array.from({ length: 1 + int(4) }, () => pick([String(int(1e9)), String(rng() * 1000), pick(numbers), " ", ",", ".", "-"]))));
for (const b of bases) for (const c of contractions) add("contractions", b + c);
for (let i = 0; i < 100; i++) add("contractions", join(Array.from({ length: 2 + int(4) }, () => pick(bases) + pick(contractions) + pick(["", " ", "x"]))));
for (let i = 0; i < 200; i++) {
  const [lo, hi] = pick(supplementaryLetters), [dlo, dhi] = pick(supplementaryDigits);
  add("supplementary", join(Array.from({ length: 1 + int(6) }, () => pick([range(lo, hi), range(dlo, dhi), " " + range(dlo, dhi), " " + range(lo, hi), range(lo, hi) + pick(contractions), range(dlo, dhi) + "'s", "a", "1", " ", "\n", "!", "é"]))));
}
for (const e of emoji) { add("emoji", e); add("emoji", " " + e); add("emoji", e + e + e); add("emoji", "x" + e + "'s"); }
for (let i = 0; i < 80; i++) add("emoji", join(Array.from({ length: 1 + int(5) }, () => pick([pick(emoji), " ", "a", "字", "\n", pick(combining)]))));
for (let i = 0; i < 160; i++) {
  const base = pick(["a", "e", "o", "A", "字", "𝐀", "1", " ", "<", ">", "=", "\n", "ก", "한", ""]);
  const marks = join(Array.from({ length: 1 + int(4) }, () => pick(combining)));
  add("combining", base + marks + pick(["", "'s", " x", "b"]));
}
for (let i = 0; i < 100; i++) { const s = pick(prose).slice(int(20), 40 + int(40)); add("nfd", s.normalize("NFD")); add("nfc", s.normalize("NFD").normalize("NFC")); }
for (const s of ["Å", "Å", "Å", "ﬁ", "ℌ", "Ǆ", "한", "한", "ñ", "ñ", "ệ", "ệ", "ẛ̣", "ḍ̇", "\u0958", "\u2126", "\u212B"]) { add("nfc", s); add("nfc", "x" + s + "'s"); }
for (const c of controls) { add("controls", c); add("controls", "a" + c + "b"); add("controls", c + c + " " + c); add("controls", "<think>" + c); }
for (let i = 0; i < 100; i++) add("controls", join(Array.from({ length: 1 + int(6) }, () => pick([pick(controls), "x", " ", "1", "字"]))));
for (const s of specials) {
  add("special", s); add("special", s + s); add("special", " " + s + " "); add("special", "word" + s + "word");
  add("special", s + "\u0338"); add("special", s + "\u0301x"); add("special", s.slice(0, -1) + "\u0338"); add("special", "é" + s + "e\u0301");
}
for (const s of nearSpecials) { add("special", s); add("special", s + "x"); }
for (let i = 0; i < 120; i++) add("special", join(Array.from({ length: 2 + int(5) }, () => pick([pick(specials), pick(nearSpecials), pick(prose).slice(0, int(30)), "\n", pick(combining)]))));
add("special", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
for (const w of words) { add("long", w); add("long", w.repeat(3)); add("long", " " + w + "'s"); }
for (let i = 0; i < 60; i++) {
  const unit = pick(["a", "ab", "xyz", "字", "é", "𝐀", "0", "1", "-", "=", " ", "\t", "😀", "Ω", "ff"]);
  add("long", unit.repeat(1 + int(rng() < 0.15 ? 1500 : 120)));
}
for (let i = 0; i < 20; i++) add("long", "https://example.com/" + Array.from({ length: 40 }, () => pick(["a", "b", "%20", "/", "?q=", "&", "_", "-", "0"])).join(""));
// Random code points from every plane the vocabulary can see (no lone surrogates: HF's Rust takes valid Unicode only).
const planes = [[0x20, 0x7E], [0xA0, 0x2FF], [0x370, 0x1FFF], [0x2000, 0x2BFF], [0x2E80, 0x9FFF], [0xAC00, 0xD7A3], [0xE000, 0xFFFF], [0x10000, 0x1FFFF], [0x20000, 0x3134F], [0xE0000, 0xE01EF]];
for (let i = 0; i < 260; i++) {
  let s = "";
  for (let n = 1 + int(12); n > 0; n--) { const [lo, hi] = pick(planes); s += range(lo, hi); if (rng() < 0.2) s += " "; }
  add("random", s);
}
console.log(JSON.stringify(out));
