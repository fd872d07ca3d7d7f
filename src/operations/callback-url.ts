import { BlockList, isIP } from "node:net";
import { invalid } from "../domain/errors.js";

// The rules a status callback URL must meet to be stored (a room's, or an
// account's default in the credentials file).

export const maxCallbackUrlLength = 2048;

// Refuses a callback URL that is not an absolute http or https URL, carries
// credentials, is longer than 2048 characters or names a link-local address.
// Returns it unchanged otherwise; "" (no callback) passes.
export function checkCallbackUrl(url: string, field = "status_callback"): string {
  if (url === "") return url;
  const refuse = (rule: string) => invalid("status_callback_invalid", field, rule);
  if (url.length > maxCallbackUrlLength) throw refuse(`must be at most ${maxCallbackUrlLength} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse("must be an absolute http or https URL");
  }
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || !/^https?:\/\//i.test(url))
    throw refuse("must be an absolute http or https URL");
  if (parsed.username !== "" || parsed.password !== "") throw refuse("must not carry credentials");
  if (isLinkLocal(parsed.hostname)) throw refuse("must not name a link-local address");
  return url;
}

const linkLocal = new BlockList();
linkLocal.addSubnet("169.254.0.0", 16, "ipv4");
linkLocal.addSubnet("fe80::", 10, "ipv6");

// An IPv6 literal without its brackets; an IPv4-mapped IPv6 address as IPv4.
export function plainAddress(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, "$1");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1]! : bare;
}

// Whether a host is an IP literal (a URL's hostname: IPv6 in brackets).
export function isIpLiteral(host: string): boolean {
  return isIP(plainAddress(host)) !== 0;
}

export function isLinkLocal(address: string): boolean {
  const plain = plainAddress(address);
  const family = isIP(plain);
  if (family === 0) return false;
  return linkLocal.check(plain, family === 4 ? "ipv4" : "ipv6");
}
