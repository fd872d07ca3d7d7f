import { randomBytes } from "node:crypto";

// Sids are a two-letter prefix and 32 hex digits; rollcall issues lowercase
// random ones and accepts either case, as Twilio does.
export type SidPrefix = "AC" | "RM" | "PA" | "MT";

export function newSid(prefix: SidPrefix): string {
  return prefix + randomBytes(16).toString("hex");
}

const patterns: Record<SidPrefix, RegExp> = {
  AC: /^AC[0-9a-fA-F]{32}$/,
  RM: /^RM[0-9a-fA-F]{32}$/,
  PA: /^PA[0-9a-fA-F]{32}$/,
  MT: /^MT[0-9a-fA-F]{32}$/,
};

// The sid in rollcall's canonical form, or undefined if text is not such a sid.
export function parseSid(prefix: SidPrefix, text: string): string | undefined {
  return patterns[prefix].test(text) ? prefix + text.slice(2).toLowerCase() : undefined;
}
