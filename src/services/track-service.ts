import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  TrackService,
  TrackServiceGetSubscribeRulesResponseSchema,
  TrackServiceListPublishedResponseSchema,
  TrackServiceListSubscribedResponseSchema,
  TrackServicePublishResponseSchema,
  TrackServiceSubscribeResponseSchema,
  TrackServiceUnpublishResponseSchema,
  TrackServiceUnsubscribeResponseSchema,
  TrackServiceUpdateResponseSchema,
  TrackServiceUpdateSubscribeRulesResponseSchema,
} from "../../gen/rollcall/v1/track_pb.js";
import type { TrackOperations } from "../operations/tracks.js";
import { accountOf } from "./account.js";
import { subscribedTrackMessage, subscribeRulesMessage, subscribeRulesOf, trackKindOf, trackMessage } from "./messages.js";
import { stopAfterPage } from "./streams.js";

export function trackService(tracks: TrackOperations, draining: AbortSignal): ServiceImpl<typeof TrackService> {
  return {
    async publish(req, ctx) {
      const track = await tracks.publish(
        accountOf(ctx),
        {
          room: req.room,
          participant: req.participant,
          name: req.name,
          kind: trackKindOf(req.kind),
          enabled: req.enabled,
        },
        ctx.signal,
      );
      return create(TrackServicePublishResponseSchema, { track: trackMessage(track) });
    },

    async update(req, ctx) {
      const track = await tracks.update(accountOf(ctx), req.room, req.participant, req.track, req.enabled, ctx.signal);
      return create(TrackServiceUpdateResponseSchema, { track: trackMessage(track) });
    },

    async unpublish(req, ctx) {
      const track = await tracks.unpublish(accountOf(ctx), req.room, req.participant, req.track, ctx.signal);
      return create(TrackServiceUnpublishResponseSchema, { track: trackMessage(track) });
    },

    async subscribe(req, ctx) {
      const subscription = await tracks.subscribe(accountOf(ctx), req.room, req.participant, req.track, ctx.signal);
      return create(TrackServiceSubscribeResponseSchema, { subscribedTrack: subscribedTrackMessage(subscription) });
    },

    async unsubscribe(req, ctx) {
      const subscription = await tracks.unsubscribe(accountOf(ctx), req.room, req.participant, req.track, ctx.signal);
      return create(TrackServiceUnsubscribeResponseSchema, { subscribedTrack: subscribedTrackMessage(subscription) });
    },

    async *listPublished(req, ctx) {
      // Zero is protobuf for "not set".
      const input = { room: req.room, participant: req.participant, pageSize: req.pageSize || undefined, pageToken: req.pageToken };
      for await (const page of tracks.publishedPages(accountOf(ctx), input, ctx.signal)) {
        yield create(TrackServiceListPublishedResponseSchema, { tracks: page.items.map(trackMessage), nextPageToken: page.nextPageToken });
        stopAfterPage(ctx.signal, draining, page.nextPageToken);
      }
    },

    async *listSubscribed(req, ctx) {
      const input = { room: req.room, participant: req.participant, pageSize: req.pageSize || undefined, pageToken: req.pageToken };
      for await (const page of tracks.subscribedPages(accountOf(ctx), input, ctx.signal)) {
        yield create(TrackServiceListSubscribedResponseSchema, {
          subscribedTracks: page.items.map(subscribedTrackMessage),
          nextPageToken: page.nextPageToken,
        });
        stopAfterPage(ctx.signal, draining, page.nextPageToken);
      }
    },

    async getSubscribeRules(req, ctx) {
      const rules = await tracks.getRules(accountOf(ctx), req.room, req.participant, ctx.signal);
      return create(TrackServiceGetSubscribeRulesResponseSchema, { subscribeRules: subscribeRulesMessage(rules) });
    },

    async updateSubscribeRules(req, ctx) {
      const rules = await tracks.setRules(accountOf(ctx), req.room, req.participant, subscribeRulesOf(req.rules), ctx.signal);
      return create(TrackServiceUpdateSubscribeRulesResponseSchema, { subscribeRules: subscribeRulesMessage(rules) });
    },
  };
}
