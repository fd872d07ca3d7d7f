import { readFileSync } from "node:fs";

// rollcall's version, from its package.json: the nearest one above this file,
// which is src/ when run from source and dist/src/ when built.
export function packageVersion(): string {
  for (let dir = new URL(".", import.meta.url); dir.pathname !== "/"; dir = new URL("..", dir)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "rollcall" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // No package.json here: look in the parent.
    }
  }
  return "unknown";
}
