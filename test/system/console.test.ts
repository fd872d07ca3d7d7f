import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import { existsSync } from "node:fs";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { buildConsole } from "../../console/build.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { emptySharedRedis } from "../support/fixtures.js";
import { configFromEnv } from "../../src/config.js";
import { newSid } from "../../src/operations/sids.js";
import { startServer } from "../../src/server.js";
import { MemoryStore } from "../../src/store/memory/memory-store.js";
import { startRollcall, testAccount, testApiKey, testCredentials } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";
import { LogCapture } from "../support/log-capture.js";

// The browser console, driven in Debian's chromium (playwright-core starts
// it; it downloads no browser). The server runs on the shared redis-server so
// that a restart on the same port keeps the rooms and the Watch cursors.

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const docs = path.join(import.meta.dirname, "..", "..", "docs");

type Rollcall = Awaited<ReturnType<typeof startRollcall>>;

describe("the browser console", function () {
  this.timeout(30_000);
  let rollcall: Rollcall;
  let redisUrl: string;
  let context: BrowserContext;
  let userDataDir: string;
  let rooms: Client<typeof RoomService>;
  let participants: Client<typeof ParticipantService>;
  // What a page reported: script errors, console errors (CSP violations
  // among them) and dialogs (an injected alert() would open one).
  let problems: string[];

  function connectApi(): void {
    rooms = connectJsonHttp1(RoomService, rollcall.url);
    participants = connectJsonHttp1(ParticipantService, rollcall.url);
  }

  before(async function () {
    this.timeout(60_000);
    if (!existsSync(chromiumPath))
      throw new Error(`${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
    // Run from source, the console may not be built yet: build it where the
    // server looks for it.
    await buildConsole();
    redisUrl = (await emptySharedRedis()).url;
    rollcall = await startRollcall({ redisUrl, grpcPort: undefined, maxParticipants: 10_000 });
    connectApi();
    userDataDir = await mkdtemp(path.join(os.tmpdir(), "rollcall-console-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1200, height: 800 },
      timezoneId: "UTC",
      locale: "en-GB",
    });
    // Each wait names what it waited for when it fails, well before mocha's timeout.
    context.setDefaultTimeout(5000);
  });

  after(async function () {
    this.timeout(20_000);
    await context?.close();
    await rollcall?.close();
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
  });

  let page: Page;
  beforeEach(async () => {
    problems = [];
    page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" && !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
      void dialog.dismiss();
    });
  });

  afterEach(async () => {
    await page.close();
  });

  async function signIn(user = testAccount.sid, secret = testAccount.token, url = rollcall.url): Promise<void> {
    await page.goto(`${url}/console`);
    await page.getByLabel("Account SID or API key SID").fill(user);
    await page.getByLabel("Auth token or secret").fill(secret);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  async function openRoom(name: string): Promise<void> {
    await page.getByRole("link", { name, exact: true }).click();
    await page.getByRole("heading", { level: 1, name }).waitFor();
  }

  function participantRow(identity: string) {
    return page.locator("table.participants tbody tr").filter({ has: page.locator("th.identity", { hasText: identity }) });
  }

  async function visibleWithin(locator: ReturnType<Page["locator"]>, ms: number): Promise<number> {
    const started = Date.now();
    await locator.waitFor({ state: "visible", timeout: ms });
    return Date.now() - started;
  }

  it("refuses wrong credentials with a clear message, and keeps nothing", async () => {
    await signIn(testAccount.sid, "not-the-token");
    await page.getByRole("alert").filter({ hasText: "credentials were not accepted" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
    expect(page.url()).to.not.contain("not-the-token");
    expect(problems).to.deep.equal([]);
  });

  it("signs in with an API key, shows rooms with live participant counts, and signs out", async () => {
    await rooms.create({ uniqueName: "Standup" });
    await participants.join({ room: "Standup", identity: "alice" });
    await participants.join({ room: "Standup", identity: "bob" });
    await rooms.create({ uniqueName: "Retro" });
    const old = (await rooms.create({ uniqueName: "Planning" })).room!;
    await participants.join({ room: "Planning", identity: "carol" });
    await rooms.update({ room: old.sid, status: RoomStatus.COMPLETED });

    await signIn(testApiKey.sid, testApiKey.secret);
    const standup = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Standup", exact: true }) });
    await standup.waitFor();
    expect(await standup.getByRole("cell").first().textContent()).to.equal("2");
    await page.getByRole("heading", { name: /Completed in the last day \(1\)/ }).waitFor();
    await page.getByRole("link", { name: "Planning", exact: true }).waitFor();

    // Counts follow joins live.
    await participants.join({ room: "Standup", identity: "dave" });
    await waitFor(async () => (await standup.getByRole("cell").first().textContent()) === "3", { what: "the count to reach 3" });
    // A room created after the page opened appears.
    await rooms.create({ uniqueName: "Design review" });
    await page.getByRole("link", { name: "Design review", exact: true }).waitFor({ timeout: 2000 });

    // The filter narrows by name.
    await page.getByLabel("Filter by name").fill("retr");
    await waitFor(async () => (await page.getByRole("link", { name: "Standup", exact: true }).count()) === 0, {
      what: "the filter to hide Standup",
    });
    await page.getByRole("link", { name: "Retro", exact: true }).waitFor();
    await page.getByLabel("Filter by name").fill("");
    await page.getByRole("link", { name: "Standup", exact: true }).waitFor();
    await page.getByLabel("Filter by name").blur();
    await page.screenshot({ path: path.join(docs, "console-rooms.png"), fullPage: true });

    // Credentials live in sessionStorage only, never in the URL.
    expect(page.url()).to.not.contain(testApiKey.secret);
    expect(await page.evaluate(() => localStorage.length)).to.equal(0);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it("shows a room's participants; a join through the API appears within 1 s, a kick through the button removes one", async () => {
    await signIn();
    await openRoom("Standup");
    for (const identity of ["alice", "bob", "dave"]) await participantRow(identity).waitFor();
    expect(await page.locator("table.participants tbody tr").count()).to.equal(3);

    const [, elapsed] = await Promise.all([
      participants.join({ room: "Standup", identity: "erin" }),
      visibleWithin(participantRow("erin"), 1000),
    ]);
    expect(elapsed).to.be.below(1000);

    // A leave reported by the media plane disappears as fast.
    await Promise.all([
      participants.leave({ room: "Standup", participant: "dave" }),
      participantRow("dave").waitFor({ state: "detached", timeout: 1000 }),
    ]);

    const bob = (await participants.get({ room: "Standup", participant: "bob" })).participant!;
    await participantRow("bob").getByRole("button", { name: "Kick" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Disconnect bob from Standup?").waitFor();
    // Cancelling keeps bob.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect((await participants.get({ room: "Standup", participant: bob.sid })).participant!.status).to.equal(ParticipantStatus.CONNECTED);

    await participantRow("bob").getByRole("button", { name: "Kick" }).click();
    await dialog.getByRole("button", { name: "Kick" }).click();
    await participantRow("bob").waitFor({ state: "detached", timeout: 2000 });
    expect((await participants.get({ room: "Standup", participant: bob.sid })).participant!.status).to.equal(
      ParticipantStatus.DISCONNECTED,
    );
    await page.locator(".history li").filter({ hasText: "bob" }).filter({ hasText: "kicked" }).waitFor();
    await page.locator(".history li").filter({ hasText: "dave" }).filter({ hasText: "left" }).waitFor();
    await page.screenshot({ path: path.join(docs, "console-room.png"), fullPage: true });
    expect(problems).to.deep.equal([]);
  });

  it("renders a hostile identity and room name as text and runs nothing", async () => {
    const identity = "<img src=x onerror=alert(1)>";
    const name = "<script>alert(2)</script>";
    await participants.join({ room: name, identity });
    await signIn();
    await openRoom(name);
    await participantRow(identity).waitFor();
    expect(await participantRow(identity).locator("th.identity").textContent()).to.equal(identity);
    expect(await page.locator("main img, main script").count()).to.equal(0);
    expect(await page.evaluate(() => document.querySelectorAll("img").length)).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it("completes a room after confirmation", async () => {
    await participants.join({ room: "Wrap-up", identity: "frank" });
    await signIn();
    await openRoom("Wrap-up");
    await participantRow("frank").waitFor();
    await page.getByRole("button", { name: "Complete room" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Complete room" }).click();
    await page.locator(".facts dd.status", { hasText: "completed" }).waitFor({ timeout: 2000 });
    await page.locator(".history li").filter({ hasText: "room ended" }).waitFor();
    await page.locator(".history li").filter({ hasText: "frank" }).filter({ hasText: "room completed" }).waitFor();
    await page.getByRole("heading", { name: /Participants who were there \(1\)/ }).waitFor();
    const { rooms: open } = await rooms.list({ uniqueName: "Wrap-up" });
    expect(open).to.have.length(0);
    const { rooms: done } = await rooms.list({ uniqueName: "Wrap-up", status: RoomStatus.COMPLETED });
    expect(done.map((room) => room.status)).to.deep.equal([RoomStatus.COMPLETED]);
    expect(problems).to.deep.equal([]);
  });

  it("keeps a 5 000-participant room usable, in pages, with live joins", async function () {
    this.timeout(45_000);
    const room = (await rooms.create({ uniqueName: "Town hall", maxParticipants: 6000 })).room!;
    const identities = Array.from({ length: 5000 }, (_, i) => `attendee-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < identities.length; i += 100) {
      await Promise.all(identities.slice(i, i + 100).map((identity) => participants.join({ room: room.sid, identity })));
    }
    await signIn();
    await openRoom("Town hall");
    await page.getByText("1–100 of 5000").first().waitFor({ timeout: 10_000 });
    expect(await page.locator("table.participants tbody tr").count()).to.equal(100);
    // The page answers at once, and a join still appears within 1 s.
    const started = Date.now();
    await page.evaluate(() => document.title);
    expect(Date.now() - started).to.be.below(500);
    await Promise.all([
      participants.join({ room: room.sid, identity: "latecomer" }),
      page.getByText("1–100 of 5001").first().waitFor({ timeout: 1000 }),
    ]);
    await page.getByLabel("Filter by identity").fill("latecomer");
    await participantRow("latecomer").waitFor();
    await page.getByLabel("Filter by identity").fill("");
    await page.getByRole("button", { name: "Next page" }).first().click();
    await page.getByText("101–200 of 5001").first().waitFor();
    expect(problems).to.deep.equal([]);
  });

  it("shows a banner while rollcall restarts on the same port, then resumes the stream", async () => {
    await participants.join({ room: "Resilient", identity: "grace" });
    await signIn();
    await openRoom("Resilient");
    await participantRow("grace").waitFor();

    const port = rollcall.port;
    await rollcall.close();
    await page.getByRole("status").filter({ hasText: "reconnecting" }).waitFor({ timeout: 5000 });
    rollcall = await startRollcall({ redisUrl, port, grpcPort: undefined, maxParticipants: 10_000 });
    connectApi();
    await page.getByRole("status").filter({ hasText: "Reconnected" }).waitFor({ timeout: 5000 });
    await Promise.all([participants.join({ room: "Resilient", identity: "heidi" }), visibleWithin(participantRow("heidi"), 1000)]);
    expect(problems).to.deep.equal([]);
  });

  it("lists again and watches from the new cursor when its cursor is too old (OUT_OF_RANGE)", async () => {
    // A store that keeps one event per room for 10 ms, on a clock the test moves.
    let clock = Date.now();
    const store = new MemoryStore({ retentionMs: 10, retentionPerRoom: 1, maxRoomMs: 86_400_000, now: () => clock });
    const config = { ...configFromEnv({}), port: 0, grpcPort: undefined, shutdownGraceMs: 2000 };
    let server = await startServer(config, store, testCredentials, new LogCapture().logger);
    try {
      const api = connectJsonHttp1(ParticipantService, server.url);
      await api.join({ room: "Short memory", identity: "ivan" });
      await api.join({ room: "Short memory", identity: "judy" });
      await signIn(testAccount.sid, testAccount.token, server.url);
      await openRoom("Short memory");
      await participantRow("judy").waitFor();

      // The console's Watch is cut; meanwhile more happens than the log keeps.
      await server.close();
      await page.getByRole("status").filter({ hasText: "reconnecting" }).waitFor({ timeout: 5000 });
      const roomSid = (await store.findRoomByName(testAccount.sid, "Short memory"))?.sid;
      expect(roomSid).to.be.a("string");
      const ivan = await store.findPresentParticipant(testAccount.sid, roomSid!, "ivan");
      for (const identity of ["kim", "leo", "mia"]) {
        clock += 100;
        await store.join(testAccount.sid, roomSid!, newSid("PA"), identity);
      }
      clock += 100;
      await store.disconnectParticipant(testAccount.sid, roomSid!, ivan!.sid, "left");

      server = await startServer({ ...config, port: server.port }, store, testCredentials, new LogCapture().logger);
      await page.getByRole("status").filter({ hasText: "fell too far behind" }).waitFor({ timeout: 5000 });
      for (const identity of ["judy", "kim", "leo", "mia"]) await participantRow(identity).waitFor();
      await participantRow("ivan").waitFor({ state: "detached" });
      // And it is live again from the new cursor.
      clock += 100;
      await Promise.all([
        connectJsonHttp1(ParticipantService, server.url).join({ room: "Short memory", identity: "nina" }),
        visibleWithin(participantRow("nina"), 1000),
      ]);
      expect(problems).to.deep.equal([]);
    } finally {
      await server.close();
    }
  });

  it("works from the keyboard alone, with a visible focus, in a narrow window", async () => {
    await participants.join({ room: "Keyboard", identity: "olga" });
    await participants.join({ room: "Keyboard", identity: "pat" });
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${rollcall.url}/console`);
    await page.getByLabel("Account SID or API key SID").focus();
    await page.keyboard.type(testAccount.sid);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("sign-in-secret");
    await page.keyboard.type(testAccount.token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Rooms" }).waitFor();
    const keyboardRoom = page.getByRole("link", { name: "Keyboard", exact: true });
    await keyboardRoom.waitFor();

    // Tab until the room's link has the focus; it shows a focus ring.
    for (let i = 0; i < 30 && !(await keyboardRoom.evaluate((link) => link === document.activeElement)); i++)
      await page.keyboard.press("Tab");
    expect(await keyboardRoom.evaluate((link) => getComputedStyle(link).outlineStyle)).to.not.equal("none");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Keyboard" }).waitFor();
    const kickPat = participantRow("pat").getByRole("button", { name: "Kick" });
    await kickPat.waitFor();
    for (let i = 0; i < 30 && !(await kickPat.evaluate((button) => button === document.activeElement)); i++)
      await page.keyboard.press("Tab");
    expect(await kickPat.evaluate((button) => button === document.activeElement)).to.equal(true);
    // Enter on the button (pressed on the element itself, so that a repaint
    // between finding the focus and the key press cannot lose the key).
    await kickPat.press("Enter");
    // The dialog opens on Cancel; Escape closes it and gives the focus back.
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal("Cancel");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await kickPat.evaluate((button) => button === document.activeElement)).to.equal(true);
    await kickPat.press("Enter");
    await dialog.waitFor();
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await participantRow("pat").waitFor({ state: "detached", timeout: 2000 });

    // Nothing but the tables' own scrollers is wider than the window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).to.equal(true);
    expect(problems).to.deep.equal([]);
  });
});

describe("the console's files", () => {
  let rollcall: Rollcall;
  before(async function () {
    this.timeout(20_000);
    await buildConsole();
    rollcall = await startRollcall({ grpcPort: undefined });
  });
  after(() => rollcall.close());

  it("serves the page with a strict Content-Security-Policy and nosniff", async () => {
    for (const route of ["/console", "/console/", "/console/index.html"]) {
      const response = await fetch(`${rollcall.url}${route}`);
      expect(response.status, route).to.equal(200);
      expect(response.headers.get("content-type")).to.equal("text/html; charset=utf-8");
      expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp)
        .to.contain("script-src 'self';")
        .and.contain("default-src 'self'")
        .and.contain("object-src 'none'")
        .and.contain("frame-ancestors 'none'");
      expect(csp).to.not.contain("unsafe");
      expect(await response.text()).to.contain('src="/console/console.js"');
    }
    const script = await fetch(`${rollcall.url}/console/console.js`);
    expect(script.headers.get("content-type")).to.equal("text/javascript; charset=utf-8");
    expect(await script.text()).to.have.length.above(1000);
    const css = await fetch(`${rollcall.url}/console/console.css`);
    expect(css.headers.get("content-type")).to.equal("text/css; charset=utf-8");
    expect(await css.text()).to.contain(":focus-visible");
    const head = await fetch(`${rollcall.url}/console/console.js`, { method: "HEAD" });
    expect(head.status).to.equal(200);
    expect(await head.text()).to.equal("");
  });

  it("answers 404 for anything else, 405 for other methods, and never leaves its folder", async () => {
    // Sent as written: fetch() would resolve the dots itself.
    const rawGet = (route: string) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: rollcall.port, path: route }, (response) => {
            response.resume();
            resolve(response);
          })
          .on("error", reject);
      });
    const routes = [
      "/console/missing.js",
      "/console/../package.json",
      "/console/..%2fpackage.json",
      "/console/%2e%2e/package.json",
      "/console/..",
      "/console/.hidden.js",
      "/console/sub/console.js",
      "/console/console.ts",
    ];
    for (const route of routes) {
      const response = await rawGet(route);
      expect(response.statusCode, route).to.equal(404);
      expect(response.headers["x-content-type-options"], route).to.equal("nosniff");
    }
    const post = await fetch(`${rollcall.url}/console/console.js`, { method: "POST", body: "x" });
    expect(post.status).to.equal(405);
    expect(post.headers.get("allow")).to.equal("GET, HEAD");
    await post.text();
  });
});
