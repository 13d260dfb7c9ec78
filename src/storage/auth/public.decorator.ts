import { SetMetadata } from '@nestjs/common';
import type { Scope } from '../options/api-tokens.options';
import { IS_PUBLIC_KEY, READ_ACCESS_KEY, REQUIRED_SCOPE_KEY, type ReadAccess } from './auth.constants';

/** Marks a route that needs no login (the signed upload route: its signature is the credential). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/**
 * The scope a caller needs for the route (the guard checks it after the configured guard has put
 * the caller on `req.user`). Instances and key prefixes are checked where the key is known.
 */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPE_KEY, scope);

/** A read of `{path}`: a token with `read`, or a signed download URL of this key and instance instead. */
export const SignedRead = (): MethodDecorator => SetMetadata(READ_ACCESS_KEY, 'signed' satisfies ReadAccess);

/**
 * The spec's public preview and thumbnails: anyone on a public instance; on a private one
 * (`public: false`), as `@SignedRead()`.
 */
export const PublicPreview = (): MethodDecorator => SetMetadata(READ_ACCESS_KEY, 'preview' satisfies ReadAccess);
