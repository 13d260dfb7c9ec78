import { SetMetadata } from '@nestjs/common';
import { IS_PUBLIC_KEY } from './auth.constants';

/**
 * Marks a route that needs no login (the spec's preview and thumbnail). With `identify`, a request
 * that does send `Authorization` has it checked (401 when wrong), so the route knows its caller.
 */
export const Public = (options: { identify?: boolean } = {}): MethodDecorator & ClassDecorator =>
  SetMetadata(IS_PUBLIC_KEY, options.identify ? 'identify' : true);
