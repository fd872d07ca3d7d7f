import { expect } from "chai";
import { SortedStrings } from "../../src/store/memory/sorted-strings.js";

const all = { min: "-", max: "+" };

function of(...members: string[]): SortedStrings {
  const set = new SortedStrings();
  for (const member of members) set.add(member);
  return set;
}

describe("SortedStrings", () => {
  it("keeps members once, in byte order, whatever order they came in", () => {
    const set = of("b", "a", "c", "a", "B", "\u0000", "ab");
    expect(set.range(all, 100)).to.deep.equal(["\u0000", "B", "a", "ab", "b", "c"]);
  });

  it("deletes members, and ignores deleting one it does not hold", () => {
    const set = of("a", "b", "c");
    set.delete("b");
    set.delete("zz");
    expect(set.range(all, 100)).to.deep.equal(["a", "c"]);
  });

  it("answers ranges like ZRANGE BYLEX: [ includes, ( excludes, - and + are the ends", () => {
    const set = of("a", "b", "c", "d");
    expect(set.range({ min: "[b", max: "[c" }, 100)).to.deep.equal(["b", "c"]);
    expect(set.range({ min: "(b", max: "(d" }, 100)).to.deep.equal(["c"]);
    expect(set.range({ min: "-", max: "(b" }, 100)).to.deep.equal(["a"]);
    expect(set.range({ min: "[c", max: "+" }, 100)).to.deep.equal(["c", "d"]);
    expect(set.range({ min: "[bb", max: "[cc" }, 100), "bounds need not be members").to.deep.equal(["c"]);
    expect(set.range({ min: "(d", max: "+" }, 100)).to.deep.equal([]);
    expect(set.range({ min: "[c", max: "(b" }, 100), "an empty range").to.deep.equal([]);
  });

  it("returns at most `limit` members, from the low end", () => {
    const set = of("a", "b", "c", "d");
    expect(set.range(all, 2)).to.deep.equal(["a", "b"]);
    expect(set.range({ min: "(a", max: "+" }, 2)).to.deep.equal(["b", "c"]);
    expect(set.range(all, 0)).to.deep.equal([]);
  });

  it("pages through many members with exclusive cursors, each once", () => {
    const members = Array.from({ length: 500 }, (_, i) => `m${String((i * 7919) % 500).padStart(4, "0")}`);
    const set = of(...members);
    const seen: string[] = [];
    let min = "-";
    for (;;) {
      const page = set.range({ min, max: "+" }, 33);
      if (page.length === 0) break;
      seen.push(...page);
      min = "(" + page.at(-1)!;
    }
    expect(seen).to.deep.equal([...members].sort());
  });
});
