/** The auth guard every storage route runs (swap it with `forRoot({ authGuard })`). */
export const STORAGE_AUTH_GUARD = Symbol('STORAGE_AUTH_GUARD');
/** Route metadata key set by `@Public()`. */
export const IS_PUBLIC_KEY = 'storage:isPublic';
/** Route metadata key set by `@RequireScope()`: the scope a token needs for the route. */
export const REQUIRED_SCOPE_KEY = 'storage:requiredScope';
/** Route metadata key set by `@SignedRead()` and `@PublicPreview()`: how a read route may be reached. */
export const READ_ACCESS_KEY = 'storage:readAccess';

/** `signed`: a token or a signed download URL; `preview`: also anyone, on a public instance. */
export type ReadAccess = 'signed' | 'preview';
