import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StorageModule } from 'storage-svc';
import { AttachmentsModule } from './attachments/attachments.module';
import { HOST_CONFIG, STORAGE_ROUTE_PREFIX, type HostConfig } from './config';
import { HostConfigModule } from './config.module';
import { dataSourceOptions } from './database';
import { storageOptions } from './storage';

@Module({})
export class AppModule {
  static forRoot(config: HostConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        HostConfigModule.forRoot(config),
        // The storage module's expiry sweeper lists its cron job here when the app has ScheduleModule.
        ScheduleModule.forRoot(),
        TypeOrmModule.forRootAsync({
          inject: [HOST_CONFIG],
          useFactory: (c: HostConfig) => ({ ...dataSourceOptions(c), retryAttempts: 1 }),
        }),
        StorageModule.forRootAsync({
          inject: [HOST_CONFIG],
          useFactory: storageOptions,
          routePrefix: STORAGE_ROUTE_PREFIX,
        }),
        AttachmentsModule,
      ],
    };
  }
}
