// The signed-in credentials: kept in sessionStorage only (gone when the tab
// closes), never in the URL, never logged.

export interface Credentials {
  // An account sid (AC...) or an API key sid (SK...).
  user: string;
  // The account's auth token or the key's secret.
  secret: string;
}

const key = "rollcall.console.credentials";

export function loadCredentials(): Credentials | undefined {
  const stored = sessionStorage.getItem(key);
  if (stored === null) return undefined;
  try {
    const parsed = JSON.parse(stored) as Partial<Credentials>;
    if (typeof parsed.user === "string" && typeof parsed.secret === "string") return { user: parsed.user, secret: parsed.secret };
  } catch {
    // fall through: a value this console did not write
  }
  sessionStorage.removeItem(key);
  return undefined;
}

export function saveCredentials(credentials: Credentials): void {
  sessionStorage.setItem(key, JSON.stringify(credentials));
}

export function clearCredentials(): void {
  sessionStorage.removeItem(key);
}

// The Authorization header value: HTTP Basic over the UTF-8 bytes.
export function basicAuthorization({ user, secret }: Credentials): string {
  const bytes = new TextEncoder().encode(`${user}:${secret}`);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return "Basic " + btoa(binary);
}
