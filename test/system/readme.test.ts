import { expect } from "chai";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess, type RollcallProcess } from "../support/rollcall-process.js";
import { waitFor } from "../support/wait.js";

// The README followed as a new user follows it: a fresh server started with
// development credentials, `AUTH` exported from its start log as the README
// says, then every shell block that talks to the server and every `twilio`
// script, in the order written, each of which must succeed.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

interface Block {
  language: string;
  code: string;
  line: number;
}

function blocks(): Block[] {
  return [...readme.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((match) => ({
    language: match[1]!,
    code: match[2]!,
    line: readme.slice(0, match.index).split("\n").length,
  }));
}

// The walkthrough: shell blocks that call the server or set AUTH (not those
// that install or start it), and the scripts that point the twilio SDK at it.
const walkthrough = blocks().filter(
  (block) =>
    (block.language === "sh" && /127\.0\.0\.1:(8080|50051)|export AUTH=/.test(block.code) && !/npm (start|install|ci)/.test(block.code)) ||
    (block.language === "js" && block.code.includes("client.video.baseUrl")),
);

interface Run {
  code: number | null;
  output: string;
}

// Runs a command in its own process group. With `until`, the command is a
// stream that does not end by itself (a Watch): it is stopped once its output
// matches, and counts as succeeded if it had not failed by then.
function run(command: string, args: string[], env: Record<string, string>, until?: RegExp): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let stopped = false;
    const stop = () => {
      if (stopped || child.exitCode !== null) return;
      stopped = true;
      process.kill(-child.pid!, "SIGKILL");
    };
    const timer = setTimeout(stop, 90_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (until !== undefined && until.test(output)) stop();
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: stopped && until !== undefined && until.test(output) ? 0 : code, output });
    });
  });
}

describe("the README, followed in order", function () {
  this.timeout(600_000);
  let server: RollcallProcess;
  let port: number;
  let grpcPort: number;
  let auth: string;

  before(async () => {
    grpcPort = await freePort();
    server = await startRollcallProcess({ GRPC_PORT: String(grpcPort) });
    port = Number(new URL(server.url).port);
    await waitFor(() => /account (AC\w+) auth token (\w+)/.test(server.output()), { what: "the development credentials" });
    const [, sid, token] = /account (AC\w+) auth token (\w+)/.exec(server.output())!;
    auth = `${sid}:${token}`;
  });
  after(async () => {
    if (server !== undefined) await stopProcess(server.child, "SIGTERM");
  });

  it("has a walkthrough: AUTH, the REST calls, the twilio scripts, the RPC calls", () => {
    expect(walkthrough.filter((block) => block.language === "js")).to.have.length(2);
    expect(walkthrough.length).to.be.above(15);
    expect(walkthrough[0]!.code).to.match(/^export AUTH=/);
  });

  it("every block succeeds when run in order", async () => {
    // What the user would have exported in the shell so far.
    let exported = "";
    for (const block of walkthrough) {
      const code = block.code
        .replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`)
        .replaceAll("127.0.0.1:50051", `127.0.0.1:${grpcPort}`)
        // The README: "account … auth token …" from the start log.
        .replace(/^export AUTH=ACxxxxxxxx:token/m, `export AUTH=${auth}`)
        // curl -s exits 0 on an HTTP error status; --fail-with-body makes it fail.
        .replace(/(^|\$\(|\s)curl -s /gm, "$1curl -sS --fail-with-body ");
      const where = `README.md line ${block.line}`;
      if (block.language === "js") {
        const ran = await run(process.execPath, ["--input-type=module", "-e", code], { AUTH: auth });
        expect(ran.code, `${where}:\n${ran.output}`).to.equal(0);
        if (code.includes('participants("bob").update')) expect(ran.output, where).to.equal("alice connected\n[ 'bob' ]\n");
        continue;
      }
      const watches = code.includes("EventService/Watch");
      const ran = await run("bash", ["-e", "-o", "pipefail", "-c", `${exported}\n${code}`], {}, watches ? /"cursor":/ : undefined);
      expect(ran.code, `${where}:\n${ran.output}`).to.equal(0);
      exported += code
        .split("\n")
        .filter((line) => line.startsWith("export "))
        .join("\n");
    }
  });
});
