import type { Logger } from '@nestjs/common';
import type { EventBus } from '@nestjs/cqrs';
import type { Hub, HubUser } from '@wshub/core';
import type { AuthWebSocket } from './auth-web-socket.js';
import { ClientDisconnectedEvent } from './events/client-disconnected.event.js';
import { ClientMessageEvent } from './events/client-message.event.js';
import { ClientReadyEvent } from './events/client-ready.event.js';
import { MessageDeliveredEvent } from './events/message-delivered.event.js';
import { MessageUndeliveredEvent } from './events/message-undelivered.event.js';
import { UserPresenceChangedEvent } from './events/user-presence-changed.event.js';
import { markPublishedByModule } from './own-events.js';

/** Publishes the hub's notifications as CQRS events; its errors go to Nest's `Logger`. */
export function publishHubNotifications(hub: Hub<HubUser>, eventBus: EventBus, logger: Logger): void {
  hub.on('ready', ({ socket, user }) => {
    eventBus.publish(new ClientReadyEvent(user.id, user.deviceFingerprint, socket.id));
  });
  hub.on('disconnected', ({ authorized, userId, deviceFingerprint }) => {
    if (!authorized || userId === undefined) return;
    eventBus.publish(markPublishedByModule(new ClientDisconnectedEvent(userId, deviceFingerprint)));
  });
  hub.on('message', ({ socket, event, data }) => {
    // A WebSocket in the app; the fake's socket under @wshub/testing/nest, with the same fields.
    const authSocket = socket as unknown as AuthWebSocket<HubUser>;
    eventBus.publish(new ClientMessageEvent(socket.roomId, socket.deviceFingerprint, authSocket, event, data));
  });
  hub.on('presence', ({ userId, online }) => {
    eventBus.publish(new UserPresenceChangedEvent(userId, online));
  });
  hub.on('delivered', ({ id, userId, deviceFingerprint, socketId, event, at, late }) => {
    eventBus.publish(new MessageDeliveredEvent(id, userId, deviceFingerprint, socketId, event, at, late === true));
  });
  hub.on('undelivered', ({ id, userId, event, data, scope }) => {
    eventBus.publish(new MessageUndeliveredEvent(id, userId, event, data, scope));
  });
  hub.on('error', (error) => {
    const cause = error.cause instanceof Error ? error.cause : error;
    logger.error(error.message, cause.stack);
  });
}
