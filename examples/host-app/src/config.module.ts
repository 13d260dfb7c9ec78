import { Global, Module, type DynamicModule } from '@nestjs/common';
import { HOST_CONFIG, type HostConfig } from './config';

/** Makes `HostConfig` injectable everywhere, as `@Inject(HOST_CONFIG)`. */
@Global()
@Module({})
export class HostConfigModule {
  static forRoot(config: HostConfig): DynamicModule {
    return {
      module: HostConfigModule,
      providers: [{ provide: HOST_CONFIG, useValue: config }],
      exports: [HOST_CONFIG],
    };
  }
}
