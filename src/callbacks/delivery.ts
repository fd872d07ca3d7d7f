import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import { Agent } from "undici";
import { isIpLiteral } from "../operations/callback-url.js";
import type { CallbackTarget } from "./callback-target.js";
import type { TargetPolicy } from "./target-policy.js";

// Sends one callback request: pooled keep-alive connections (undici), a
// bounded time, no redirects, and never a connection to a target the policy
// refuses, checked on the IP literal before connecting and on every address
// DNS answers.

export type DeliveryOutcome =
  | { kind: "delivered"; status: number }
  // Worth another attempt: a timeout, a connection error, 408, 429 or 5xx.
  | { kind: "retry"; status: number; reason: string }
  // Another attempt would fail the same way: another 3xx or 4xx, a refused target.
  | { kind: "final"; status: number; reason: string };

export interface CallbackHttpRequest {
  target: CallbackTarget;
  method: "GET" | "POST";
  // The path and query to request (for GET, with the parameters).
  path: string;
  body: string | undefined;
  headers: Record<string, string>;
}

// dns.lookup's shape, so tests can answer for names themselves.
export type Resolve = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface DeliveryOptions {
  // The longest an attempt takes, all told (Twilio's 15 s).
  timeoutMs: number;
  policy: TargetPolicy;
  resolve?: Resolve;
}

const refusedCode = "ERR_CALLBACK_TARGET_REFUSED";
// The most of an answer's body read (and thrown away) to keep its connection.
const bodyLimit = 64 * 1024;

export class Delivery {
  // One pool per connect timeout (Twilio's #ct= override).
  private readonly agents = new Map<number, Agent>();
  private readonly lookup: LookupFunction;

  constructor(private readonly options: DeliveryOptions) {
    this.lookup = guardedLookup(options.policy, options.resolve ?? dnsLookup);
  }

  async send(request: CallbackHttpRequest, signal: AbortSignal): Promise<DeliveryOutcome> {
    const { target } = request;
    if (isIpLiteral(target.hostname) && !this.options.policy.allowsAddress(target.hostname, false)) {
      return { kind: "final", status: 0, reason: "the target address is not allowed (link-local, or outside ROLLCALL_CALLBACK_ALLOW)" };
    }
    const total = Math.min(target.overrides.totalTimeoutMs ?? this.options.timeoutMs, this.options.timeoutMs);
    const read = Math.min(target.overrides.readTimeoutMs ?? total, total);
    const connect = Math.min(target.overrides.connectTimeoutMs ?? total, total);
    try {
      const response = await this.agent(connect).request({
        origin: target.origin,
        path: request.path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(total)]),
        headersTimeout: read,
        bodyTimeout: read,
      });
      await response.body.dump({ limit: bodyLimit }).catch(() => undefined);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { kind: "delivered", status };
      const reason = `HTTP ${status}`;
      if (status === 408 || status === 429 || status >= 500) return { kind: "retry", status, reason };
      return { kind: "final", status, reason: status >= 300 && status < 400 ? `${reason} (redirects are not followed)` : reason };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === refusedCode) return { kind: "final", status: 0, reason: (error as Error).message };
      if (signal.aborted) return { kind: "retry", status: 0, reason: "stopped" };
      return { kind: "retry", status: 0, reason: describe(error) };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((agent) => agent.close().catch(() => undefined)));
    this.agents.clear();
  }

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (agent === undefined) {
      agent = new Agent({ connect: { timeout: connectTimeoutMs, lookup: this.lookup }, keepAliveTimeout: 10_000, connections: 32 });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }
}

// net.connect's lookup that resolves through `resolve` and keeps only the
// addresses the policy allows, failing when none is left.
function guardedLookup(policy: TargetPolicy, resolve: Resolve): LookupFunction {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, "", 0);
      const byName = policy.allowsName(hostname);
      const allowed = addresses.filter((answer) => policy.allowsAddress(answer.address, byName));
      if (allowed.length === 0) {
        const refused: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to no address callbacks may go to (link-local, or outside ROLLCALL_CALLBACK_ALLOW)`,
        );
        refused.code = refusedCode;
        return callback(refused, "", 0);
      }
      if (options.all === true) return callback(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e.name === "TimeoutError" || e.name === "AbortError") return "timed out";
  const code = e.code ?? e.cause?.code;
  return code === undefined ? e.name || "request failed" : `${e.name}: ${code}`;
}
