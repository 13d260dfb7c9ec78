import { Controller, Get, Header } from '@nestjs/common';

/**
 * Liveness for the container's `HEALTHCHECK` and orchestrators: 200 once the process serves
 * requests, no login, in terminus' shape. (Readiness, which checks the database and each
 * storage instance, is a separate route; see the operations issue.)
 */
@Controller('health')
export class HealthController {
  @Get('live')
  @Header('Cache-Control', 'no-store')
  live(): { status: 'ok'; info: Record<string, never>; error: Record<string, never>; details: Record<string, never> } {
    return { status: 'ok', info: {}, error: {}, details: {} };
  }
}
