import { Controller, Get, Inject } from '@nestjs/common';
import { Hub } from '@wshub/nest';
import { DemoDatabase, type OutboxStatus } from './database/demo-database.js';
import { DEMO_ACCOUNTS } from './demo-users.js';
import { type ActivitySample, HubActivity } from './monitoring/hub-activity.js';
import { type Order, OrderStore } from './orders/order-store.js';

export interface DemoConfig {
  wsPath: string;
  accounts: Array<{ token: string; id: string; name: string; role: string }>;
  orders: Order[];
}

/** What the page needs to draw itself: the hub's path, the demo accounts and the orders. */
@Controller('demo')
export class DemoController {
  constructor(
    @Inject(Hub) private readonly hub: Hub,
    private readonly orders: OrderStore,
    private readonly activity: HubActivity,
    private readonly database: DemoDatabase,
  ) {}

  @Get('config')
  async config(): Promise<DemoConfig> {
    return {
      wsPath: this.hub.path,
      accounts: Object.entries(DEMO_ACCOUNTS).map(([token, account]) => ({ token, ...account })),
      orders: await this.orders.list(),
    };
  }

  /** The hub's counters and who is online on this node. */
  @Get('stats')
  stats(): { online: string[]; stats: ReturnType<Hub['stats']> } {
    return { online: this.hub.connectedUsers(), stats: this.hub.stats() };
  }

  /** The outbox: where it lives, whether it is open, its pending rows and how many the relay sent. */
  @Get('outbox')
  outbox(): Promise<OutboxStatus> {
    return this.database.status();
  }

  /** The last minute of the hub, a sample a second, for the page's live panel. */
  @Get('activity')
  async lastMinute(): Promise<{ samples: ActivitySample[]; outbox: OutboxStatus }> {
    return { samples: this.activity.lastMinute(), outbox: await this.database.status() };
  }
}
