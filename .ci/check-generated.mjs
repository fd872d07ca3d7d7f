// Fails when gen/ differs from what `buf generate` makes of proto/ now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const fresh = mkdtempSync(join(tmpdir(), "rollcall-gen-"));
try {
  execFileSync("node_modules/.bin/buf", ["generate", "--output", fresh], { stdio: "inherit" });
  const files = (dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();
  const committed = files("gen");
  const generated = files(join(fresh, "gen"));
  const stale = [...new Set([...committed, ...generated])].filter(
    (file) =>
      !committed.includes(file) ||
      !generated.includes(file) ||
      !readFileSync(join("gen", file)).equals(readFileSync(join(fresh, "gen", file))),
  );
  if (stale.length > 0) {
    console.error(`gen/ is out of date with proto/ (run npm run generate): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log("gen/ matches proto/");
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
