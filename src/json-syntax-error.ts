// Where a text stops being JSON (RFC 8259), as a line and column a person can
// go to, and what was expected there. JSON.parse says where only in some of
// its messages, and others quote the text around the fault, which in a
// credentials file may be a secret: this names the place and never the text.

export interface JsonSyntaxError {
  // 1-based, counting lines by \n and columns by UTF-16 code units.
  line: number;
  column: number;
  expected: string;
}

class Fault extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {
    super(`expected ${expected} at ${offset}`);
  }
}

export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let at = 0;
  const fail = (expected: string): never => {
    throw new Fault(at, expected);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at]!)) at++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, at)) at += word.length;
    else fail(word);
  };
  const string = () => {
    if (text[at] !== '"') fail("a double-quoted string");
    at++;
    for (;;) {
      if (at >= text.length) fail('the closing "');
      const char = text[at]!;
      if (char === '"') return void at++;
      if (char < " ") fail("no control character inside a string (write \\n, \\t, ...)");
      if (char === "\\") {
        at++;
        if (text[at] === "u") {
          at++;
          for (let i = 0; i < 4; i++, at++) if (!/[0-9a-fA-F]/.test(text[at] ?? "")) fail("4 hex digits after \\u");
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[at] ?? "x")) fail('an escape: \\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\u');
      }
      at++;
    }
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (match === null) fail("a value: an object, array, string, number, true, false or null");
    at += match![0].length;
  };
  const value = (): void => {
    space();
    const char = text[at];
    if (char === "{") {
      at++;
      space();
      if (text[at] === "}") return void at++;
      for (;;) {
        space();
        string();
        space();
        if (text[at] !== ":") fail('":" after the key');
        at++;
        value();
        space();
        if (text[at] === "}") return void at++;
        if (text[at] !== ",") fail('"," or "}" after the value');
        at++;
      }
    }
    if (char === "[") {
      at++;
      space();
      if (text[at] === "]") return void at++;
      for (;;) {
        value();
        space();
        if (text[at] === "]") return void at++;
        if (text[at] !== ",") fail('"," or "]" after the element');
        at++;
      }
    }
    if (char === '"') return string();
    if (char === "t") return literal("true");
    if (char === "f") return literal("false");
    if (char === "n") return literal("null");
    number();
  };
  try {
    value();
    space();
    if (at < text.length) fail("the end of the text after the value");
    return undefined;
  } catch (error) {
    // Nesting too deep for this recursion leaves the place unknown.
    if (error instanceof RangeError) return undefined;
    if (!(error instanceof Fault)) throw error;
    const before = text.slice(0, error.offset);
    const line = before.split("\n").length;
    return { line, column: error.offset - (before.lastIndexOf("\n") + 1) + 1, expected: error.expected };
  }
}
