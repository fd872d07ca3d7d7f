import { expect } from "chai";
import { encodeTime, lexRange } from "../../src/store/lex-index.js";

// The bounds of listing queries. These tests pin what a range includes at
// its edges (the time encoding, `after` inclusive, `before` exclusive, the
// cursor exclusive), not the exact member layout.

const sid = "PA" + "a".repeat(32);

describe("lex index", () => {
  describe("encodeTime", () => {
    it("writes 13 zero-padded digits, so string order is time order", () => {
      expect(encodeTime(0)).to.equal("0000000000000");
      expect(encodeTime(1_700_000_000_123)).to.equal("1700000000123");
      const times = [0, 1, 9, 10, 999, 1000, 1_700_000_000_000, 9_999_999_999_999];
      const encoded = times.map(encodeTime);
      expect([...encoded].sort()).to.deep.equal(encoded);
      expect(encoded.every((text) => text.length === 13)).to.equal(true);
    });

    it("truncates fractions and clamps to what 13 digits hold", () => {
      expect(encodeTime(12.9)).to.equal("0000000000012");
      expect(encodeTime(-5)).to.equal("0000000000000");
      expect(encodeTime(10 ** 13)).to.equal("9999999999999");
      expect(encodeTime(Number.MAX_SAFE_INTEGER)).to.equal("9999999999999");
    });
  });

  describe("lexRange", () => {
    it("spans everything with no bounds, or a whole name with a name", () => {
      expect(lexRange({})).to.deep.equal({ min: "-", max: "+" });
      const named = lexRange({}, "ann");
      expect(named.min.startsWith("[ann")).to.equal(true);
      expect(named.max.startsWith("(ann")).to.equal(true);
      expect(named.min.slice(1) < named.max.slice(1)).to.equal(true);
    });

    it("includes `after` and excludes `before`", () => {
      const range = lexRange({ after: 1000, before: 2000 });
      expect(range.min).to.equal("[" + encodeTime(1000));
      expect(range.max).to.equal("(" + encodeTime(2000));
    });

    it("leaves the top open when `before` is past what 13 digits hold", () => {
      expect(lexRange({ before: 10 ** 13 }).max).to.equal("+");
      expect(lexRange({ before: 10 ** 13 - 1 }).max).to.equal("(" + encodeTime(10 ** 13 - 1));
    });

    it("resumes strictly after the cursor", () => {
      const range = lexRange({ cursor: { time: 1500, sequence: 7, sid } });
      expect(range.min[0]).to.equal("(");
      expect(range.min.slice(1)).to.contain(encodeTime(1500)).and.to.contain(sid);
    });

    it("takes whichever is later of `after` and the cursor", () => {
      const cursorLater = lexRange({ after: 1000, cursor: { time: 1500, sequence: 7, sid } });
      expect(cursorLater.min[0]).to.equal("(");
      expect(cursorLater.min).to.contain(encodeTime(1500));
      const afterLater = lexRange({ after: 2000, cursor: { time: 1500, sequence: 7, sid } });
      expect(afterLater.min).to.equal("[" + encodeTime(2000));
    });

    it("keeps a named range within the name", () => {
      const range = lexRange({ after: 1000, before: 2000, cursor: { time: 1500, sequence: 7, sid } }, "ann");
      expect(range.min.slice(1).startsWith("ann")).to.equal(true);
      expect(range.max.slice(1).startsWith("ann")).to.equal(true);
      expect(range.min).to.contain(encodeTime(1500));
      expect(range.max).to.contain(encodeTime(2000));
      // "anna" sorts after every member of "ann": outside the range.
      expect(lexRange({}, "ann").max.slice(1) < "anna").to.equal(true);
    });
  });
});
