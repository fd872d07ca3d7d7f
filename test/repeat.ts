// npm run test:repeat -- N
//
// Runs the tests of listing order, paging and concurrency N times in a row
// (one mocha run each, with the settings of .mocharc.json), stops at the first
// run that fails, and says how many runs passed. For flakes that show once in
// a while: a clock or ordering bug needs many runs to be seen, or to be seen gone.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

// The files that hold them, and the titles that pick them out.
const files = [
  "test/integration/concurrency.test.ts",
  "test/integration/store-contract.test.ts",
  "test/integration/e2e.test.ts",
  "test/integration/rest.test.ts",
  "test/integration/twilio-sdk.test.ts",
];
const grep = "/concurrency|order|page|List|cursor|resume/";

const runs = Number(process.argv[2] ?? "1");
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`usage: npm run test:repeat -- N (N a whole number of runs, at least 1; got ${JSON.stringify(process.argv[2])})`);
  process.exit(2);
}

// .mocharc.json's settings but its spec: the files above are the spec.
const rc = JSON.parse(readFileSync(`${root}/.mocharc.json`, "utf8")) as {
  import?: string;
  require?: string[];
  reporter?: string;
  timeout?: number;
};
const args = ["--no-config", "--reporter", rc.reporter!, "--timeout", String(rc.timeout ?? 20000), "--grep", grep];
if (rc.import !== undefined) args.push(`--import=${rc.import}`);
for (const module of rc.require ?? []) args.push("--require", module);
const mocha = createRequire(import.meta.url).resolve("mocha/bin/mocha.js");

for (let run = 1; run <= runs; run++) {
  console.log(`test:repeat: run ${run} of ${runs}`);
  const result = spawnSync(process.execPath, [mocha, ...args, ...files], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.log(`test:repeat: ${run - 1} of ${runs} runs passed; run ${run} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}
console.log(`test:repeat: ${runs} of ${runs} runs passed`);
