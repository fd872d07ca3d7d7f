import { invalid } from "../../domain/errors.js";

// The parameters of a Twilio request: a query string, or a form body. Names
// are case-sensitive, unknown names are ignored, and a parameter that takes
// one value may be given once.
export class Params {
  constructor(private readonly values: URLSearchParams) {}

  string(name: string): string | undefined {
    const all = this.values.getAll(name);
    if (all.length > 1) throw invalid("invalid_parameter", name, `may be given once, got ${all.length} values`);
    return all[0];
  }

  integer(name: string): number | undefined {
    const text = this.string(name);
    if (text === undefined || text === "") return undefined;
    if (!/^[+-]?\d{1,15}$/.test(text.trim()))
      throw invalid("invalid_parameter", name, `must be an integer, got ${JSON.stringify(text.slice(0, 40))}`);
    return Number(text);
  }

  // ISO 8601: a date, or a date and time with Z or an offset.
  date(name: string): number | undefined {
    const text = this.string(name);
    if (text === undefined || text === "") return undefined;
    const ms = isoForm.test(text) && isCalendarDay(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(ms))
      throw invalid(
        "invalid_parameter",
        name,
        `must be an ISO 8601 date-time such as 2026-12-01T09:00:00Z, got ${JSON.stringify(text.slice(0, 40))}`,
      );
    return ms;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const text = this.string(name);
    if (text === undefined || text === "") return undefined;
    if (!allowed.includes(text as T))
      throw invalid("invalid_parameter", name, `must be one of ${allowed.join(", ")}, got ${JSON.stringify(text.slice(0, 40))}`);
    return text as T;
  }
}

const isoForm = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

// Whether the text starts with a day the calendar has: Date.parse rolls
// 2026-02-30 over to March 2 rather than refusing it.
function isCalendarDay(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
