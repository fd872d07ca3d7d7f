import { createHash, timingSafeEqual } from "node:crypto";
import type { Credentials } from "../credentials.js";

// What an RPC without valid credentials is told.
export const credentialsRequired =
  "missing or wrong credentials: send HTTP Basic authorization with an account sid and auth token, or an API key sid and secret";

// HTTP Basic authentication, the same on every transport: the username is an
// account sid or an API key sid, the password its auth token or secret.
export class BasicAuth {
  // Headers already verified, so a client's every call does not hash its
  // secret again. Only valid credentials enter, and the whole header is the
  // key, so a lookup tells a guesser nothing the constant-time path would not.
  private readonly verified = new Map<string, string>();

  constructor(private readonly credentials: Credentials) {}

  // The account the caller acts for, or undefined if the header does not
  // carry valid credentials.
  accountOf(authorization: string | null | undefined): string | undefined {
    if (authorization === null || authorization === undefined) return undefined;
    const known = this.verified.get(authorization);
    if (known !== undefined) return known;
    const accountSid = this.verify(authorization);
    if (accountSid !== undefined) {
      if (this.verified.size >= maxVerified) this.verified.clear();
      this.verified.set(authorization, accountSid);
    }
    return accountSid;
  }

  private verify(authorization: string): string | undefined {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (match === null) return undefined;
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = this.credentials.users.get(decoded.slice(0, colon));
    // Compare even for an unknown user, so timing does not tell which users exist.
    const matches = sameSecret(decoded.slice(colon + 1), user?.secret ?? "\u0000unknown user");
    return user !== undefined && matches ? user.accountSid : undefined;
  }
}

const maxVerified = 10_000;

// Constant time whatever the lengths: compares digests, not the secrets.
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
