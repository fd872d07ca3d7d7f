import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { CallbackService } from "../../gen/rollcall/v1/callback_pb.js";
import { EventService } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { TrackService } from "../../gen/rollcall/v1/track_pb.js";
import type { Logger } from "../observability/logger.js";
import type { CallbackOperations } from "../operations/callbacks.js";
import type { EventOperations } from "../operations/events.js";
import type { ParticipantOperations } from "../operations/participants.js";
import type { RoomOperations } from "../operations/rooms.js";
import type { TrackOperations } from "../operations/tracks.js";
import { callbackService } from "./callback-service.js";
import { eventService } from "./event-service.js";
import { healthService } from "./health.js";
import { participantService } from "./participant-service.js";
import { reflectionServices } from "./reflection.js";
import { roomService } from "./room-service.js";
import { trackService } from "./track-service.js";

// Services for probes and tools, which send no credentials.
export const publicServices: DescService[] = [Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];

// Watchers hear of a change within a second; a store that takes longer than
// that to answer a ping is not serving.
const healthOptions = { pollIntervalMs: 1000, pingTimeoutMs: 1000 };

// A service and the handlers that implement it, in connect-es' form; both RPC
// servers (connect-node and grpc-js) serve the same bindings.
export interface ServiceBinding {
  service: DescService;
  // Handlers by method local name; bind() checks them against the service.
  impl: Partial<ServiceImpl<DescService>>;
}

function bind<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceBinding {
  return { service, impl: impl as Partial<ServiceImpl<DescService>> };
}

export function rpcServices(
  participants: ParticipantOperations,
  rooms: RoomOperations,
  events: EventOperations,
  callbacks: CallbackOperations,
  tracks: TrackOperations,
  ping: () => Promise<void>,
  draining: AbortSignal,
  log?: Logger,
): ServiceBinding[] {
  const rollcallServices = [ParticipantService, RoomService, EventService, CallbackService, TrackService];
  const reflection = reflectionServices([...rollcallServices, ...publicServices]);
  return [
    bind(ParticipantService, participantService(participants, draining)),
    bind(RoomService, roomService(rooms)),
    bind(EventService, eventService(events, draining)),
    bind(CallbackService, callbackService(callbacks)),
    bind(TrackService, trackService(tracks, draining)),
    bind(
      Health,
      healthService(
        ping,
        rollcallServices.map((service) => service.typeName),
        draining,
        { ...healthOptions, log },
      ),
    ),
    bind(reflectionV1.ServerReflection, reflection.v1),
    bind(reflectionV1alpha.ServerReflection, reflection.v1alpha),
  ];
}

export function connectRoutes(bindings: ServiceBinding[]) {
  return (router: ConnectRouter) => {
    for (const { service, impl } of bindings) router.service(service, impl);
  };
}
