import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/**
 * The `{path}` of a `*path` route as one string: Express 5 hands a wildcard over as its
 * decoded segments, which are joined back with `/`. Validation is the service's.
 */
export const FilePath = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const value = context.switchToHttp().getRequest<{ params: Record<string, unknown> }>().params.path;
  return Array.isArray(value) ? value.join('/') : String(value ?? '');
});
