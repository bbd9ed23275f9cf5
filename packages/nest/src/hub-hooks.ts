import type { IncomingMessage } from 'node:http';
import type { Logger } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import type { EventBus } from '@nestjs/cqrs';
import type { HubOptions, HubUser, WsHubSocket } from '@wshub/core';
import { hasEventsHandler } from './event-handler-registry.js';
import { ClientConnectedEvent } from './events/client-connected.event.js';
import { IsAllowedToWatchEvent } from './events/is-allowed-to-watch.event.js';
import { SessionRefreshEvent } from './events/session-refresh.event.js';

type Hooks = Pick<HubOptions<HubUser, WsHubSocket<HubUser>>, 'authenticate' | 'canWatch' | 'refresh'>;

/**
 * The hub's hooks, answered by the app's CQRS handlers:
 * - `authenticate` publishes `ClientConnectedEvent` and waits for its
 *   `resolve`/`reject`; core's `authTimeoutMs` bounds the wait (4408);
 * - `canWatch` publishes `IsAllowedToWatchEvent` and waits for `allowed()`;
 * - `refresh`, only when the app handles `SessionRefreshEvent` (otherwise
 *   clients are never asked to refresh), publishes it and waits for its
 *   `resolve`/`reject`, bounded by `authTimeoutMs` (4403).
 */
export function createHubHooks(eventBus: EventBus, modules: ModulesContainer, logger: Logger): Hooks {
  let handlerChecked = false;
  return {
    authenticate(request) {
      if (!handlerChecked) {
        // Checked on the first connection, when every module is loaded; said once.
        handlerChecked = true;
        if (!hasEventsHandler(modules, ClientConnectedEvent)) {
          logger.error(
            'No @EventsHandler(ClientConnectedEvent) is registered, so no connection can be authorized: ' +
              'every client is closed with 4408 when authTimeoutMs runs out. ' +
              'Add a handler that calls event.resolve(user) or event.reject(error).',
          );
        }
      }
      // Node sets `url` on every request its server receives.
      const event = new ClientConnectedEvent<HubUser>(request as IncomingMessage & { url: string });
      eventBus.publish(event);
      return event.user;
    },
    canWatch({ user, userId, event, payload }) {
      const question = new IsAllowedToWatchEvent(event, payload, userId, user);
      eventBus.publish(question);
      return question.allowed();
    },
    refresh: hasEventsHandler(modules, SessionRefreshEvent)
      ? ({ token, user }) => {
          const event = new SessionRefreshEvent<HubUser>(token, user, user.id, user.deviceFingerprint);
          eventBus.publish(event);
          return event.refreshed;
        }
      : undefined,
  };
}
