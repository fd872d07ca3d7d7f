import type http from "node:http";
import type http2 from "node:http2";
import { RoomServiceClient } from "livekit-server-sdk";
import type { LiveKitConfig } from "../config.js";
import { ConfigError } from "../config.js";
import type { ParticipantOperations } from "../operations/participants.js";
import type { RoomOperations } from "../operations/rooms.js";
import type { Store } from "../store/store.js";
import { LiveKitControl, type ControlOptions } from "./control.js";
import { LiveKitReconciler } from "./reconcile.js";
import { WebhookIngest } from "./webhook-ingest.js";
import { LiveKitMirror } from "./webhook-mapping.js";
import type { Logger } from "../observability/logger.js";

// The LiveKit bridge: rollcall keeps the Twilio API, LiveKit carries the
// media. Beside the transports, over the operations: webhooks in (ingest),
// LiveKit's listings compared (reconcile), kicks and completions out
// (control). Only livekit-server-sdk talks to LiveKit.

export interface BridgeOptions {
  config: LiveKitConfig;
  // The credentials' accounts; the bridge's is config.accountSid or the only one.
  accounts: readonly string[];
  maxRequestBytes: number;
  control: ControlOptions;
  log: Logger;
}

export class LiveKitBridge {
  readonly accountSid: string;
  readonly ingest: WebhookIngest;
  readonly reconciler: LiveKitReconciler;
  readonly control: LiveKitControl;

  constructor(store: Store, rooms: RoomOperations, participants: ParticipantOperations, options: BridgeOptions) {
    this.accountSid = bridgeAccount(options.config.accountSid, options.accounts);
    const { url, apiKey, apiSecret } = options.config;
    const client = new RoomServiceClient(url, apiKey, apiSecret, { requestTimeout: 10 });
    const mirror = new LiveKitMirror(store, rooms, participants, this.accountSid);
    this.ingest = new WebhookIngest(store, mirror, { apiKey, apiSecret, maxRequestBytes: options.maxRequestBytes, log: options.log });
    this.reconciler = new LiveKitReconciler(store, client, mirror, participants, options.config.reconcileMs, options.log);
    this.control = new LiveKitControl(store, client, this.accountSid, options.control, options.log);
  }

  handle(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    this.ingest.handle(req, res);
  }

  start(): void {
    this.reconciler.start();
    this.control.start();
  }

  async close(): Promise<void> {
    await Promise.all([this.reconciler.close(), this.control.close()]);
  }
}

function bridgeAccount(configured: string | undefined, accounts: readonly string[]): string {
  if (configured !== undefined) {
    if (!accounts.includes(configured))
      throw new ConfigError(`ROLLCALL_LIVEKIT_ACCOUNT_SID ${configured} is not an account of the credentials`);
    return configured;
  }
  if (accounts.length !== 1)
    throw new ConfigError(
      `the credentials have ${accounts.length} accounts: set ROLLCALL_LIVEKIT_ACCOUNT_SID to the one that owns the LiveKit rooms`,
    );
  return accounts[0]!;
}
