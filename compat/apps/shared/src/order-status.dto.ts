import { Exclude } from 'class-transformer';

export class OrderStatusDto {
  @Exclude()
  warehouseNote = 'shelf 3';

  constructor(
    readonly orderId: number,
    readonly status: string,
  ) {}
}
