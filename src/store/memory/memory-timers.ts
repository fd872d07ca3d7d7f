import { encodeTime } from "../lex-index.js";
import type { DueTimer } from "../store.js";
import { SortedStrings } from "./sorted-strings.js";

// The timers of one shard in the memory store: each timer's due time, and the
// same ordered by due time, so finding the due ones costs what they are, not
// how many timers wait.
export class MemoryTimers {
  private readonly dueOf = new Map<string, number>();
  private readonly byDue = new SortedStrings();

  schedule(timer: string, due: number): void {
    this.cancel(timer);
    this.dueOf.set(timer, due);
    this.byDue.add(encodeTime(due) + timer);
  }

  cancel(timer: string): void {
    const due = this.dueOf.get(timer);
    if (due === undefined) return;
    this.dueOf.delete(timer);
    this.byDue.delete(encodeTime(due) + timer);
  }

  // The timers due at `now`, earliest first.
  due(now: number, limit: number): DueTimer[] {
    return this.byDue
      .range({ min: "-", max: "(" + encodeTime(now + 1) }, limit)
      .map((member) => ({ timer: member.slice(13), due: Number(member.slice(0, 13)) }));
  }
}
