/**
 * Where and why a text is not JSON, in the words and positions of Python's `json` module, which the FastAPI
 * reference uses: its 422 `json_invalid` carries `loc: ["body", <position>]` and `ctx.error` = the module's
 * message ("Expecting value", "Expecting ',' delimiter", ...). Node's JSON.parse messages differ and often
 * quote the submitted text, so this scanner runs only after JSON.parse has failed (the hot path stays
 * JSON.parse).
 *
 * It follows CPython 3.11's C scanner (Modules/_json.c) step by step, iteratively so that a body nested a
 * hundred thousand deep cannot overflow the stack. Positions count code points, as Python's do.
 * test/json-error-positions.test.ts compares it with a table produced by Python's json module.
 *
 * One deliberate difference: Python also accepts NaN, Infinity and -Infinity, which are not JSON and which
 * JSON.parse rejects; here they are "Expecting value" at their first character.
 */

export interface JsonErrorLocation {
  /** Offset of the error in code points (Python's `JSONDecodeError.pos`). */
  readonly position: number;
  /** Python's `JSONDecodeError.msg`, without the line and column suffix. */
  readonly message: string;
}

const ARRAY = 0;
const OBJECT = 1;

class Failure {
  constructor(
    readonly message: string,
    readonly index: number,
  ) {}
}

/** Locates the first error in `text`; a text that is valid JSON gets "Expecting value" at 0 (never expected). */
export function locateJsonError(text: string): JsonErrorLocation {
  const failure = scanDocument(text) ?? new Failure('Expecting value', 0);
  return { position: codePointOffset(text, failure.index), message: failure.message };
}

function scanDocument(s: string): Failure | undefined {
  const n = s.length;
  const open: number[] = [];
  let i = skipWhitespace(s, 0);
  for (;;) {
    // A value starts at i.
    let complete = true;
    if (i >= n) return new Failure('Expecting value', i);
    const c = s[i];
    if (c === '"') {
      const end = scanString(s, i + 1);
      if (end instanceof Failure) return end;
      i = end;
    } else if (c === '{') {
      i = skipWhitespace(s, i + 1);
      if (s[i] === '}') i++;
      else {
        open.push(OBJECT);
        const valueAt = scanKey(s, i);
        if (valueAt instanceof Failure) return valueAt;
        i = valueAt;
        complete = false;
      }
    } else if (c === '[') {
      i = skipWhitespace(s, i + 1);
      if (s[i] === ']') i++;
      else {
        open.push(ARRAY);
        complete = false;
      }
    } else if (s.startsWith('null', i) || s.startsWith('true', i)) {
      i += 4;
    } else if (s.startsWith('false', i)) {
      i += 5;
    } else {
      const end = matchNumber(s, i);
      if (end === i) return new Failure('Expecting value', i);
      i = end;
    }
    if (!complete) continue;

    // A value ended at i: close what it completes, until a delimiter asks for the next value.
    for (;;) {
      if (open.length === 0) {
        i = skipWhitespace(s, i);
        return i === n ? undefined : new Failure('Extra data', i);
      }
      i = skipWhitespace(s, i);
      const container = open[open.length - 1];
      if (s[i] === (container === ARRAY ? ']' : '}')) {
        open.pop();
        i++;
        continue;
      }
      if (s[i] !== ',') return new Failure("Expecting ',' delimiter", i);
      i = skipWhitespace(s, i + 1);
      if (container === OBJECT) {
        const valueAt = scanKey(s, i);
        if (valueAt instanceof Failure) return valueAt;
        i = valueAt;
      }
      break;
    }
  }
}

/** An object's `"key" :` at i; returns where its value starts. */
function scanKey(s: string, i: number): number | Failure {
  if (s[i] !== '"') return new Failure('Expecting property name enclosed in double quotes', i);
  const end = scanString(s, i + 1);
  if (end instanceof Failure) return end;
  const colon = skipWhitespace(s, end);
  if (s[colon] !== ':') return new Failure("Expecting ':' delimiter", colon);
  return skipWhitespace(s, colon + 1);
}

/** The rest of a string whose opening quote is at start - 1; returns the index after its closing quote. */
function scanString(s: string, start: number): number | Failure {
  const n = s.length;
  const begin = start - 1;
  let end = start;
  for (;;) {
    let next = end;
    while (next < n && s[next] !== '"' && s[next] !== '\\') {
      if (s.charCodeAt(next) <= 0x1f) return new Failure('Invalid control character at', next);
      next++;
    }
    if (next >= n) return new Failure('Unterminated string starting at', begin);
    if (s[next] === '"') return next + 1;
    next++; // past the backslash
    if (next === n) return new Failure('Unterminated string starting at', begin);
    if (s[next] !== 'u') {
      if (!'"\\/bfnrt'.includes(s[next])) return new Failure('Invalid \\escape', next - 1);
      end = next + 1;
      continue;
    }
    // \uXXXX: the escape needs its four digits and at least one character after them.
    end = next + 5;
    if (end >= n) return new Failure('Invalid \\uXXXX escape', next);
    const unit = hex4(s, next + 1);
    if (unit < 0) return new Failure('Invalid \\uXXXX escape', next);
    // A high surrogate followed by a \u escape is read as a pair; the second escape's digits are checked here.
    if (unit >= 0xd800 && unit <= 0xdbff && end + 6 < n && s[end] === '\\' && s[end + 1] === 'u') {
      const low = hex4(s, end + 2);
      if (low < 0) return new Failure('Invalid \\uXXXX escape', end + 1);
      if (low >= 0xdc00 && low <= 0xdfff) end += 6;
    }
  }
}

/** Four hex digits at i as a number, or -1. */
function hex4(s: string, i: number): number {
  const digits = s.slice(i, i + 4);
  return /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : -1;
}

/** The end of the longest JSON number at i (Python's NUMBER_RE), or i when there is none. */
function matchNumber(s: string, i: number): number {
  NUMBER.lastIndex = i;
  return NUMBER.exec(s) ? NUMBER.lastIndex : i;
}
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;

function skipWhitespace(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** A UTF-16 index as a count of code points (Python's string index): each surrogate pair before it counts once. */
function codePointOffset(s: string, index: number): number {
  let offset = index;
  for (let i = 1; i < index; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) {
      const previous = s.charCodeAt(i - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) offset--;
    }
  }
  return offset;
}
