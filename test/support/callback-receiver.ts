import http from "node:http";
import type { AddressInfo } from "node:net";
import twilio from "twilio";

// A status callback receiver for tests: a node:http server on loopback that
// checks every request with the official twilio.validateRequest, records it
// and answers as the test says (a status, or "hang": never answer).

export interface ReceivedCallback {
  method: string;
  // The URL as the receiver saw it (origin and request target).
  url: string;
  params: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  valid: boolean;
  // The status answered, or undefined for a request left hanging.
  status: number | undefined;
}

export type Answer = (callback: ReceivedCallback, index: number) => number | "hang";

export class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  answer: Answer = () => 200;
  private server: http.Server | undefined;

  private constructor(
    private readonly authToken: string,
    public port: number,
  ) {}

  static async start(authToken: string, port = 0): Promise<CallbackReceiver> {
    const receiver = new CallbackReceiver(authToken, port);
    await receiver.listen();
    return receiver;
  }

  url(pathAndQuery = "/callbacks"): string {
    return `http://127.0.0.1:${this.port}${pathAndQuery}`;
  }

  // The received callbacks of one room, in arrival order.
  of(roomSid: string): ReceivedCallback[] {
    return this.received.filter((callback) => callback.params.RoomSid === roomSid);
  }

  // The SequenceNumbers a room's callbacks were answered 2xx for, in order.
  delivered(roomSid: string): number[] {
    return this.of(roomSid)
      .filter((callback) => callback.status !== undefined && callback.status >= 200 && callback.status < 300)
      .map((callback) => Number(callback.params.SequenceNumber));
  }

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const url = `http://127.0.0.1:${this.port}${req.url}`;
        const body = Buffer.concat(chunks).toString("utf8");
        const params =
          req.method === "POST" ? Object.fromEntries(new URLSearchParams(body)) : Object.fromEntries(new URL(url).searchParams);
        const signature = String(req.headers["x-twilio-signature"] ?? "");
        const valid = twilio.validateRequest(this.authToken, signature, url, req.method === "POST" ? params : {});
        const callback: ReceivedCallback = { method: req.method!, url, params, headers: req.headers, valid, status: undefined };
        const answer = this.answer(callback, this.received.length);
        this.received.push(callback);
        if (answer === "hang") return;
        callback.status = answer;
        res.writeHead(answer, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  // Stops listening and drops every connection: the receiver is down.
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
