import type { Type } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';

/**
 * The metadata key `@EventsHandler()` writes (`@nestjs/cqrs` keeps it in
 * `dist/decorators/constants`, which is not part of its public exports).
 */
const EVENTS_HANDLER_METADATA = '__eventsHandler__';

/**
 * Whether any provider of the app is an `@EventsHandler` for `event`, found
 * the way `@nestjs/cqrs` finds handlers (decorator metadata on the instance's
 * class).
 */
export function hasEventsHandler(modules: ModulesContainer, event: Type<unknown>): boolean {
  for (const moduleRef of modules.values()) {
    for (const wrapper of moduleRef.providers.values()) {
      const type = (wrapper.instance as object | undefined)?.constructor ?? wrapper.metatype;
      if (!type) continue;
      const events: unknown = Reflect.getMetadata(EVENTS_HANDLER_METADATA, type);
      if (Array.isArray(events) && events.includes(event)) return true;
    }
  }
  return false;
}
