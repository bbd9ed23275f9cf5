import { Controller, Get, Inject } from '@nestjs/common';
import { Hub } from '@wshub/nest';
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
  ) {}

  @Get('config')
  config(): DemoConfig {
    return {
      wsPath: this.hub.path,
      accounts: Object.entries(DEMO_ACCOUNTS).map(([token, account]) => ({ token, ...account })),
      orders: this.orders.list(),
    };
  }

  /** The hub's counters and who is online on this node. */
  @Get('stats')
  stats(): { online: string[]; stats: ReturnType<Hub['stats']> } {
    return { online: this.hub.connectedUsers(), stats: this.hub.stats() };
  }

  /** The last minute of the hub, a sample a second, for the page's live panel. */
  @Get('activity')
  lastMinute(): { samples: ActivitySample[] } {
    return { samples: this.activity.lastMinute() };
  }
}
