import { Controller, Get, Redirect } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from './app.config';

/** `GET /`: the standalone service's front door is the file manager page of its storage routes. */
@Controller()
export class RootController {
  constructor(private readonly config: ConfigService) {}

  @Get()
  @Redirect(undefined, 302)
  root(): { url: string } {
    const prefix = this.config.getOrThrow<AppConfig>('app').routePrefix.replace(/^\/+|\/+$/g, '');
    return { url: `/${prefix}/ui/` };
  }
}
