import { expect } from "chai";
import { once } from "node:events";
import { startRollcallProcess, stopProcess } from "../support/rollcall-process.js";
import { waitFor } from "../support/wait.js";

// What the process writes to stdout: pino's JSON lines, or pino-pretty's
// lines for people with ROLLCALL_LOG_FORMAT=pretty.
describe("the process's log format", function () {
  this.timeout(30_000);

  it("is one JSON object a line by default, and what is buffered is written before it exits", async () => {
    const rollcall = await startRollcallProcess({ ROLLCALL_CREDENTIALS_FILE: "", REDIS_URL: "" });
    try {
      await fetch(`${rollcall.url}/v1/Rooms`, { headers: { "x-request-id": "format-test-1" } });
      const exited = once(rollcall.child, "exit");
      rollcall.child.kill("SIGTERM");
      await exited;
      const records = rollcall
        .output()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { level: number; msg: string; component?: string; requestId?: string; code?: string });
      expect(records[0]!.msg).to.match(/^store: in-memory store/);
      expect(records.find((record) => record.requestId === "format-test-1")).to.include({ component: "access", code: "401" });
      expect(records.at(-1)!.msg).to.equal("SIGTERM: finishing calls in flight, then exiting");
    } finally {
      await stopProcess(rollcall.child);
    }
  });

  it("is pino-pretty's with ROLLCALL_LOG_FORMAT=pretty", async () => {
    const rollcall = await startRollcallProcess({ ROLLCALL_CREDENTIALS_FILE: "", REDIS_URL: "", ROLLCALL_LOG_FORMAT: "pretty" });
    try {
      await waitFor(() => rollcall.output().includes("serving gRPC"), { what: "the pretty serving line" });
      const line = rollcall
        .output()
        .split("\n")
        .find((text) => text.includes("serving gRPC"))!;
      expect(line).to.match(/INFO/);
      expect(line.trimStart()).to.not.match(/^\{/);
    } finally {
      await stopProcess(rollcall.child);
    }
  });
});
