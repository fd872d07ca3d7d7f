// Twilio's connection overrides in a callback URL's fragment
// (#ct=…&rt=…&tt=…&rc=…), which tune the delivery and are never sent.

// Twilio's connection overrides: connect, read and total timeouts (ms) and
// how many times to retry.
export interface ConnectionOverrides {
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  totalTimeoutMs?: number;
  retries?: number;
}

export interface CallbackTarget {
  // The URL as configured without its fragment: what is requested and signed.
  url: string;
  // Where to connect, and the path and query exactly as configured.
  origin: string;
  path: string;
  hostname: string;
  overrides: ConnectionOverrides;
}

const overrideNames: Record<string, keyof ConnectionOverrides> = {
  ct: "connectTimeoutMs",
  rt: "readTimeoutMs",
  tt: "totalTimeoutMs",
  rc: "retries",
};

// Splits a stored callback URL into what to request and the overrides.
// Timeouts are bounded by `maxTimeoutMs`; unknown or malformed overrides are
// ignored, as Twilio does.
export function callbackTarget(configured: string, maxTimeoutMs: number): CallbackTarget {
  const hash = configured.indexOf("#");
  const url = hash < 0 ? configured : configured.slice(0, hash);
  const overrides: ConnectionOverrides = {};
  for (const pair of hash < 0 ? [] : configured.slice(hash + 1).split("&")) {
    const [name, value] = pair.split("=");
    const key = overrideNames[name ?? ""];
    if (key === undefined || value === undefined || !/^\d{1,9}$/.test(value)) continue;
    overrides[key] = key === "retries" ? Math.min(Number(value), 5) : Math.min(Math.max(Number(value), 1), maxTimeoutMs);
  }
  const parsed = new URL(url);
  const afterScheme = url.indexOf("//") + 2;
  const pathStart = url.slice(afterScheme).search(/[/?]/);
  const rest = pathStart < 0 ? "/" : url.slice(afterScheme + pathStart);
  return { url, origin: parsed.origin, path: rest.startsWith("?") ? "/" + rest : rest, hostname: parsed.hostname, overrides };
}
