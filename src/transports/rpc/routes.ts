import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../../../gen/grpc/health/v1/health_pb.js";
import * as reflectionV1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ParticipantService } from "../../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../../gen/rollcall/v1/room_pb.js";
import type { ParticipantOperations } from "../../operations/participants.js";
import type { RoomOperations } from "../../operations/rooms.js";
import { healthService } from "./health.js";
import { participantService } from "./participant-service.js";
import { reflectionServices } from "./reflection.js";
import { roomService } from "./room-service.js";

// Services for probes and tools, which send no credentials.
export const publicServices = [Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];

// Watchers hear of a change within a second; a store that takes longer than
// that to answer a ping is not serving.
const healthOptions = { pollIntervalMs: 1000, pingTimeoutMs: 1000 };

export function rpcRoutes(participants: ParticipantOperations, rooms: RoomOperations, ping: () => Promise<void>, draining: AbortSignal) {
  const rollcallServices = [ParticipantService, RoomService];
  const reflection = reflectionServices([...rollcallServices, ...publicServices]);
  return (router: ConnectRouter) => {
    router.service(ParticipantService, participantService(participants, draining));
    router.service(RoomService, roomService(rooms));
    router.service(Health, healthService(ping, rollcallServices.map((service) => service.typeName), draining, healthOptions));
    router.service(reflectionV1.ServerReflection, reflection.v1);
    router.service(reflectionV1alpha.ServerReflection, reflection.v1alpha);
  };
}
