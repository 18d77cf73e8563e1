// Long random texts built to break a tokenizer's cut: giant words with no spaces, CJK, emoji with ZWJ
// sequences and skin tones, combining marks, mixed scripts, NUL and control characters, whitespace runs,
// punctuation, and the tokenizer's own special tokens written out in the text.
import { seededRandom } from '../dist/bench/lib/corpus.js';

const ranges = {
  ascii: [0x61, 0x7a],
  upper: [0x41, 0x5a],
  digits: [0x30, 0x39],
  punct: [0x21, 0x2f],
  latin1: [0xc0, 0xff],
  combining: [0x300, 0x36f],
  greek: [0x391, 0x3c9],
  cyrillic: [0x410, 0x44f],
  arabic: [0x621, 0x64a],
  devanagari: [0x905, 0x94d],
  cjk: [0x4e00, 0x9fff],
  hiragana: [0x3041, 0x3096],
  hangul: [0xac00, 0xd7a3],
  emoji: [0x1f600, 0x1f64f],
  control: [0x00, 0x1f],
} as const;
const pieces = [
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u3000',
  '\u200b',
  '\u200d',
  '\u2028',
  '\ufeff',
  '\u0000',
  '\u007f',
  '👨‍👩‍👧‍👦',
  '👍🏽',
  '🏳️‍🌈',
  'é',
  'e\u0301',
  'İ',
  'ß',
  'ﬁ',
  'Σς',
  '[MASK]',
  '[CLS]',
  '[SEP]',
  '[PAD]',
  '[UNK]',
  '[MAS',
  'K]',
  '...',
  '!!!',
  '--',
  "n't",
  'un',
  '##ing',
  'the',
  'movie',
  'good',
  '\ud800',
  '\udfff',
];

type Style = keyof typeof ranges | 'pieces' | 'words';

/** Generator of long hostile texts; the same seed gives the same texts. */
export function hostileTexts(seed: number): (length: number) => string {
  const random = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const styles = [...Object.keys(ranges), 'pieces', 'words'] as Style[];
  const run = (style: Style, n: number): string => {
    let out = '';
    for (let i = 0; i < n; i++) {
      if (style === 'pieces') out += pieces[int(0, pieces.length - 1)];
      else if (style === 'words') out += pieces[int(0, 2)] + pieces[int(pieces.length - 6, pieces.length - 3)];
      else {
        const [lo, hi] = ranges[style];
        out += String.fromCodePoint(int(lo, hi));
      }
    }
    return out;
  };
  return (length) => {
    // Each text favours a few styles, in runs from one character to thousands (giant words).
    const favourites = Array.from({ length: int(1, 4) }, () => styles[int(0, styles.length - 1)]);
    let text = '';
    while (text.length < length) {
      const style = random() < 0.8 ? favourites[int(0, favourites.length - 1)] : styles[int(0, styles.length - 1)];
      text += run(style, random() < 0.1 ? int(100, 5000) : int(1, 30));
      if (random() < 0.5) text += run('pieces', int(0, 3));
    }
    return text.slice(0, length);
  };
}
