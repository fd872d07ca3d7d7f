import { trackKinds, type SubscribeRule, type TrackKind } from "../domain/records.js";
import { invalid, quote, type RollcallError } from "../domain/errors.js";

// Twilio's subscribe rules (Track Subscriptions API): an array of 1 to 20
// rules, each with a `type` (include or exclude) and either `all: true` alone
// or filters (`publisher`, `track`, `kind`, `priority`), each at most once.
// Every violation is error 53215, and the previous rules stay.

const maxRules = 20;
// Rules text longer than this cannot be 20 valid rules of 128-character names.
const maxRulesText = 16 * 1024;
const filters = ["publisher", "track", "kind", "priority"] as const;
const priorities = ["low", "standard", "high"];
const maxFilterLength = 128;

function rulesInvalid(rule: string): RollcallError {
  return invalid("subscribe_rules_invalid", "rules", rule);
}

// The rules from the form field Rules, a JSON array.
export function parseRulesJson(text: string | undefined): SubscribeRule[] {
  if (text === undefined || text.trim() === "") throw rulesInvalid("is required: a JSON array of subscribe rules");
  if (text.length > maxRulesText) throw rulesInvalid(`must be at most ${maxRulesText} characters of JSON, got ${text.length}`);
  return checkRules(new StrictJson(text).document());
}

// Checks rules given as parsed JSON (or built from an RPC message) and returns
// them with only the fields given.
export function checkRules(value: unknown): SubscribeRule[] {
  if (!Array.isArray(value)) throw rulesInvalid("must be a JSON array of rules");
  if (value.length === 0) throw rulesInvalid("must hold at least one rule (an empty set of rules is not allowed)");
  if (value.length > maxRules) throw rulesInvalid(`may hold at most ${maxRules} rules, got ${value.length}`);
  return value.map((rule, i) => checkRule(rule, i));
}

function checkRule(value: unknown, index: number): SubscribeRule {
  const at = `rule ${index}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw rulesInvalid(`${at} must be an object`);
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (name !== "type" && name !== "all" && !(filters as readonly string[]).includes(name))
      throw rulesInvalid(`${at} has an unknown field ${quote(name)}`);
  }
  const { type } = fields;
  if (type === undefined) throw rulesInvalid(`${at} must have a type`);
  if (type !== "include" && type !== "exclude") throw rulesInvalid(`${at} type must be include or exclude`);
  if ("all" in fields) {
    if (fields.all !== true) throw rulesInvalid(`${at} all must be true`);
    if (Object.keys(fields).length !== 2) throw rulesInvalid(`${at} with all may have no other field than type`);
    return { type, all: true };
  }
  const rule: SubscribeRule = { type };
  let given = 0;
  for (const name of filters) {
    const filter = fields[name];
    if (filter === undefined) continue;
    given++;
    if (typeof filter !== "string" || filter === "") throw rulesInvalid(`${at} ${name} must be a non-empty string`);
    if ([...filter].length > maxFilterLength) throw rulesInvalid(`${at} ${name} must be at most ${maxFilterLength} characters`);
    if (name === "kind" && !(trackKinds as readonly string[]).includes(filter))
      throw rulesInvalid(`${at} kind must be audio, video or data`);
    if (name === "priority" && !priorities.includes(filter)) throw rulesInvalid(`${at} priority must be low, standard or high`);
    if (name === "kind") rule.kind = filter as TrackKind;
    else rule[name] = filter;
  }
  if (given === 0) throw rulesInvalid(`${at} must have all or at least one filter (publisher, track, kind, priority)`);
  return rule;
}

// JSON as RFC 8259 has it, except that an object may not name a member twice
// (a rule may not repeat a filter), which JSON.parse silently allows.
class StrictJson {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.space();
    if (this.at !== this.text.length) throw this.fail();
    return value;
  }

  private value(depth: number): unknown {
    if (depth > 8) throw rulesInvalid("is nested too deeply");
    this.space();
    const c = this.text[this.at];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.at, this.at + 64));
    if (literal === null) throw this.fail();
    this.at += literal[0].length;
    return JSON.parse(literal[0]);
  }

  private object(depth: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    this.at++;
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return object;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') throw this.fail();
      const name = this.string();
      if (Object.hasOwn(object, name)) throw rulesInvalid(`gives ${quote(name)} twice in one rule`);
      this.space();
      if (this.text[this.at++] !== ":") throw this.fail();
      object[name] = this.value(depth + 1);
      this.space();
      const next = this.text[this.at++];
      if (next === "}") return object;
      if (next !== ",") throw this.fail();
    }
  }

  private array(depth: number): unknown[] {
    const array: unknown[] = [];
    this.at++;
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth + 1));
      this.space();
      const next = this.text[this.at++];
      if (next === "]") return array;
      if (next !== ",") throw this.fail();
    }
  }

  private string(): string {
    // eslint-disable-next-line no-control-regex -- JSON strings may not hold raw control characters
    const match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(this.text.slice(this.at));
    if (match === null) throw this.fail();
    this.at += match[0].length;
    return JSON.parse(match[0]) as string;
  }

  private space(): void {
    while (this.at < this.text.length && " \t\n\r".includes(this.text[this.at]!)) this.at++;
  }

  private fail(): RollcallError {
    return rulesInvalid(`is not valid JSON (at character ${this.at})`);
  }
}
