import { Injectable, NotFoundException } from '@nestjs/common';

export interface Order {
  id: number;
  /** The id of the user who placed it. */
  owner: string;
  status: string;
}

/** The demo's orders, in memory. */
@Injectable()
export class OrderStore {
  private readonly orders = new Map<number, Order>(
    [
      { id: 1, owner: 'alice', status: 'placed' },
      { id: 42, owner: 'bob', status: 'placed' },
      { id: 43, owner: 'bob', status: 'packed' },
      { id: 7, owner: 'carol', status: 'placed' },
    ].map((order) => [order.id, order]),
  );

  list(): Order[] {
    return [...this.orders.values()];
  }

  find(id: number): Order | undefined {
    return this.orders.get(id);
  }

  setStatus(id: number, status: string): Order {
    const order = this.orders.get(id);
    if (!order) throw new NotFoundException(`order ${id} does not exist`);
    order.status = status;
    return order;
  }
}
