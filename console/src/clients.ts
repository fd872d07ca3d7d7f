import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { EventService } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { basicAuthorization, type Credentials } from "./session.js";

export interface Clients {
  rooms: Client<typeof RoomService>;
  participants: Client<typeof ParticipantService>;
  events: Client<typeof EventService>;
}

// rollcall's own RPCs, over the Connect protocol with JSON, on the origin
// that served the console. Every call carries the Basic credentials.
export function clientsFor(credentials: Credentials): Clients {
  const authorization = basicAuthorization(credentials);
  const authenticate: Interceptor = (next) => (req) => {
    req.header.set("authorization", authorization);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: false, interceptors: [authenticate] });
  return {
    rooms: createClient(RoomService, transport),
    participants: createClient(ParticipantService, transport),
    events: createClient(EventService, transport),
  };
}
