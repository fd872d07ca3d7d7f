import { BlockList, isIP } from "node:net";
import { isLinkLocal, plainAddress } from "../operations/callback-url.js";

// Where callbacks may go. Link-local addresses (169.254.0.0/16, fe80::/10:
// cloud metadata services live there) never, whatever a URL or DNS says; and
// when ROLLCALL_CALLBACK_ALLOW lists CIDRs and host names, only there.

export class TargetPolicy {
  private readonly networks = new BlockList();
  private readonly names: string[] = [];
  // Whether ROLLCALL_CALLBACK_ALLOW restricts targets at all.
  readonly restricted: boolean;

  // `allow`: CIDRs (an address alone is a single host) and host names; a
  // name "*.example.com" allows the subdomains of example.com. Empty: any
  // host that is not link-local.
  constructor(allow: readonly string[]) {
    for (const entry of allow) {
      const [address, bits] = entry.split("/");
      const plain = plainAddress(address!);
      const family = isIP(plain);
      if (family === 0) {
        this.names.push(entry.toLowerCase());
        continue;
      }
      const type = family === 4 ? "ipv4" : "ipv6";
      this.networks.addSubnet(plain, bits === undefined ? (family === 4 ? 32 : 128) : Number(bits), type);
    }
    this.restricted = allow.length > 0;
  }

  // Whether a host name (not an address) is allowed by name, so that every
  // address it resolves to (but link-local ones) may be connected to.
  allowsName(host: string): boolean {
    if (!this.restricted) return true;
    const name = host.toLowerCase();
    return this.names.some((entry) => (entry.startsWith("*.") ? name.endsWith(entry.slice(1)) : name === entry));
  }

  // Whether an address may be connected to; `byName` when its host name is allowed.
  allowsAddress(address: string, byName: boolean): boolean {
    if (isLinkLocal(address)) return false;
    if (!this.restricted || byName) return true;
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.networks.check(plain, family === 4 ? "ipv4" : "ipv6");
  }
}

// Parses ROLLCALL_CALLBACK_ALLOW: comma-separated CIDRs, addresses and host
// names. Returns the entries, or a message naming the bad one.
export function parseAllowList(text: string): string[] | { error: string } {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of entries) {
    const [address, bits, extra] = entry.split("/");
    const family = isIP(plainAddress(address!));
    if (bits !== undefined) {
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(bits) || Number(bits) > max)
        return { error: `${JSON.stringify(entry)} is not a CIDR` };
    } else if (family === 0 && !/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(entry)) {
      return { error: `${JSON.stringify(entry)} is neither a CIDR, an address nor a host name` };
    }
  }
  return entries;
}
