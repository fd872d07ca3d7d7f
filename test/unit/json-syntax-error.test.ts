import { expect } from "chai";
import { jsonSyntaxError } from "../../src/json-syntax-error.js";

// jsonSyntaxError finds a fault exactly where JSON.parse refuses a text.
describe("jsonSyntaxError", () => {
  const texts = [
    "{}",
    " [ ] ",
    '{"a": [1, -0.5, 2e10, 3E-2, true, false, null, "\\u00e9\\n\\"\\\\\\/"], "b": {}}',
    '"just a string"',
    "0",
    "-",
    "01",
    "1.",
    ".5",
    "+1",
    "{'a': 1}",
    '{"a": 1,}',
    "[1,]",
    '{"a" 1}',
    '{"a": tru}',
    "nul",
    '"\\x"',
    '"\\u12G4"',
    '"unterminated',
    "[1 2]",
    "{} {}",
    "",
    "   ",
    "\ufeff{}",
  ];
  for (const text of texts) {
    it(`${JSON.stringify(text)}: ${isJson(text) ? "no fault" : "a fault"}, as JSON.parse says`, () => {
      expect(jsonSyntaxError(text) === undefined).to.equal(isJson(text));
    });
  }
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
