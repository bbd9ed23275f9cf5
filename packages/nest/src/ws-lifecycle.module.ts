import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { WsHubHost } from './ws-hub.host.js';

/**
 * Holds {@link WsHubHost} apart from the global `WsModule`. Nest destroys
 * modules nearest the root first and global modules last; importing
 * `CqrsModule` here puts it deeper than this module, so the hub closes (and
 * reports its disconnects) while the EventBus still has its handlers.
 */
@Module({
  imports: [CqrsModule],
  providers: [WsHubHost],
})
export class WsLifecycleModule {}
