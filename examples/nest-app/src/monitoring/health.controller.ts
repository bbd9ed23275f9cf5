import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { WsHubHealthIndicator } from '@wshub/nest';

/**
 * Probes for an orchestrator. `live`: the process answers HTTP (restart it
 * when it does not). `ready`: the hub accepts connections, its broker is
 * reachable and the event loop is on time; 503 from the moment shutdown
 * starts closing the hub, so a load balancer stops sending new clients
 * while the hub drains.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly wsHub: WsHubHealthIndicator,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.wsHub.isHealthy()]);
  }
}
