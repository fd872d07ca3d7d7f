import { createHash, hash, timingSafeEqual } from "node:crypto";
import type { Credentials } from "../credentials.js";
import { FailureBuckets } from "./failure-buckets.js";
import type { Logger } from "../observability/logger.js";
import { authFailures } from "../observability/metrics.js";

// What an RPC without valid credentials is told.
export const credentialsRequired =
  "missing or wrong credentials: send HTTP Basic authorization with an account sid and auth token, or an API key sid and secret";

export interface FailedAuthLimits {
  // Failed authentications a client address may make per minute (and at once).
  perAddressPerMinute: number;
  // Failed authentications per minute against one account or API key sid, from
  // addresses that have not authenticated as it before.
  perAccountPerMinute: number;
}

export type Authentication =
  | { accountSid: string }
  // No valid credentials: 401, unauthenticated.
  | { refused: "credentials" }
  // Too many failures from this address or against this sid: 429 with
  // Retry-After, resource exhausted; nothing was checked.
  | { refused: "too_many_failures"; retryAfterMs: number };

// Counts for operators (a metrics exporter reads them).
export interface AuthCounters {
  // Calls whose credentials were missing, malformed or wrong.
  failed: number;
  // Calls refused unchecked because their address or sid failed too often.
  throttled: number;
}

// HTTP Basic authentication, the same on every transport: the username is an
// account sid or an API key sid, the password its auth token or secret.
//
// The header must be the scheme (any case), one space and a base64 token
// (RFC 7617), nothing else: anything else is refused as no credentials
// (401). RFC 9110's grammar would allow more spaces; no client sends them.
export class BasicAuth {
  // Credentials already verified, so a client's every call does not compare
  // its secret again: the digest of "user:secret" -> account sid. Only valid
  // credentials enter, at most one per user, each entry of fixed size.
  private readonly verified = new Map<string, string>();
  // The canonical header of each of those ("Basic " and the base64 of the
  // credentials, one per entry above): the common call finds its account
  // without parsing or hashing.
  private readonly verifiedHeaders = new Map<string, { user: string; accountSid: string }>();
  private readonly failuresByAddress: FailureBuckets;
  private readonly failuresBySid: FailureBuckets;
  // Sid -> addresses that authenticated as it: failures of others against
  // the sid do not lock them out. At most maxKnownAddresses in all.
  private readonly knownAddresses = new Map<string, Set<string>>();
  private knownAddressCount = 0;
  readonly counters: AuthCounters = { failed: 0, throttled: 0 };

  constructor(
    private readonly credentials: Credentials,
    limits: FailedAuthLimits,
    private readonly log: Logger,
  ) {
    this.failuresByAddress = new FailureBuckets(limits.perAddressPerMinute);
    this.failuresBySid = new FailureBuckets(limits.perAccountPerMinute);
  }

  // The account the caller acts for, or why it is refused. `address` is the
  // client's IP address as its socket reports it.
  authenticate(authorization: string | null | undefined, address: string | undefined, at?: number): Authentication {
    const from = address ?? "unknown";
    if (this.failuresByAddress.size > 0) {
      const addressWait = this.failuresByAddress.waitOf(from, (at ??= Date.now()));
      if (addressWait > 0) return this.throttled(addressWait);
    }
    const known = typeof authorization === "string" ? this.verifiedHeaders.get(authorization) : undefined;
    if (known !== undefined) return this.authenticated(known.user, known.accountSid, from, at);
    const given = parseBasic(authorization);
    if (given === undefined) return this.failed(from, undefined, at ?? Date.now());
    const user = this.credentials.users.get(given.user);
    if (user !== undefined) {
      const sidWait = this.sidWait(given.user, from, at);
      if (sidWait > 0) return this.throttled(sidWait);
    }
    let accountSid = this.verified.get(given.digest);
    if (accountSid === undefined) {
      // Compare even for an unknown user, so timing does not tell which users exist.
      const matches = sameSecret(given.secret, user?.secret ?? "\u0000unknown user");
      if (user === undefined || !matches) return this.failed(from, user === undefined ? undefined : given.user, at ?? Date.now());
      accountSid = user.accountSid;
      if (this.verified.size >= maxVerified) {
        this.verified.clear();
        this.verifiedHeaders.clear();
      }
      this.verified.set(given.digest, accountSid);
    }
    if (authorization === given.canonical) this.verifiedHeaders.set(given.canonical, { user: given.user, accountSid });
    return this.authenticated(given.user, accountSid, from, at);
  }

  // Bytes the verified-credentials cache holds, keys and values (UTF-16).
  get cacheBytes(): number {
    let bytes = 0;
    for (const [digest, accountSid] of this.verified) bytes += 2 * (digest.length + accountSid.length);
    for (const [header, { user }] of this.verifiedHeaders) bytes += 2 * (header.length + user.length);
    return bytes;
  }

  private authenticated(user: string, accountSid: string, address: string, at: number | undefined): Authentication {
    const sidWait = this.sidWait(user, address, at);
    if (sidWait > 0) return this.throttled(sidWait);
    this.rememberAddress(user, address);
    return { accountSid };
  }

  // How long calls as the sid from this address must wait: guesses against
  // the sid are refused unchecked from addresses it has not used.
  private sidWait(user: string, address: string, at: number | undefined): number {
    if (this.failuresBySid.size === 0 || this.knownAddresses.get(user)?.has(address)) return 0;
    return this.failuresBySid.waitOf(user, at ?? Date.now());
  }

  private failed(address: string, sid: string | undefined, now: number): Authentication {
    this.counters.failed++;
    authFailures.labels("credentials").inc();
    if (this.failuresByAddress.fail(address, now)) {
      this.log.warn(
        `too many failed authentications from ${address}; its calls are refused with resource exhausted (429) until it slows down`,
      );
    }
    if (sid !== undefined && this.failuresBySid.fail(sid, now)) {
      this.log.warn(
        `too many failed authentications against ${sid}; calls as ${sid} from addresses it has not used are refused with resource exhausted (429) until they slow down`,
      );
    }
    return { refused: "credentials" };
  }

  private throttled(retryAfterMs: number): Authentication {
    this.counters.throttled++;
    authFailures.labels("throttled").inc();
    return { refused: "too_many_failures", retryAfterMs };
  }

  private rememberAddress(user: string, address: string): void {
    let addresses = this.knownAddresses.get(user);
    if (addresses?.has(address)) return;
    if (this.knownAddressCount >= maxKnownAddresses) {
      this.knownAddresses.clear();
      this.knownAddressCount = 0;
      addresses = undefined;
    }
    if (addresses === undefined) this.knownAddresses.set(user, (addresses = new Set()));
    addresses.add(address);
    this.knownAddressCount++;
  }
}

const maxVerified = 10_000;
const maxKnownAddresses = 10_000;
// Longer headers are refused unread: no secret in the credentials file needs more.
const maxAuthorizationLength = 4096;
const basicForm = /^basic ([A-Za-z0-9+/]+={0,2})$/i;

// The credentials of a well-formed Basic header, and their digest: the cache
// key, the same however the header was written.
function parseBasic(
  authorization: string | null | undefined,
): { user: string; secret: string; digest: string; canonical: string } | undefined {
  if (typeof authorization !== "string" || authorization.length > maxAuthorizationLength) return undefined;
  const match = basicForm.exec(authorization);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, "base64");
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return undefined;
  return {
    user: decoded.toString("utf8", 0, colon),
    secret: decoded.toString("utf8", colon + 1),
    digest: hash("sha256", decoded, "base64"),
    canonical: "Basic " + decoded.toString("base64"),
  };
}

// Constant time whatever the lengths: compares digests, not the secrets.
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
