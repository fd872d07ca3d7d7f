import type { LexRange } from "../lex-index.js";

// An ordered set of strings answering ZRANGE BYLEX-style range queries, the
// memory store's stand-in for a Redis sorted set whose scores are all equal.
export class SortedStrings {
  private readonly items: string[] = [];

  add(member: string): void {
    const at = this.firstAtOrAfter(member);
    if (this.items[at] !== member) this.items.splice(at, 0, member);
  }

  delete(member: string): void {
    const at = this.firstAtOrAfter(member);
    if (this.items[at] === member) this.items.splice(at, 1);
  }

  range({ min, max }: LexRange, limit: number): string[] {
    let at = 0;
    if (min !== "-") {
      const bound = min.slice(1);
      at = this.firstAtOrAfter(bound);
      if (min[0] === "(" && this.items[at] === bound) at++;
    }
    const found: string[] = [];
    for (; at < this.items.length && found.length < limit; at++) {
      const member = this.items[at]!;
      if (!withinMax(member, max)) break;
      found.push(member);
    }
    return found;
  }

  private firstAtOrAfter(member: string): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.items[mid]! < member) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function withinMax(member: string, max: string): boolean {
  if (max === "+") return true;
  const bound = max.slice(1);
  return max[0] === "(" ? member < bound : member <= bound;
}
