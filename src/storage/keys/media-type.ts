import { StorageError } from '../errors/storage.error';

/** The longest media type (with its parameters) accepted. */
export const MAX_MEDIA_TYPE_LENGTH = 255;

// RFC 9110 §5.6.2 token, §5.6.4 quoted-string and §8.3.1 media-type, restricted to visible ASCII:
// no obs-text (bytes above 0x7E) and no control character, HTAB included, inside a value.
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[ !\\x23-\\x5b\\x5d-\\x7e]|\\\\[ -~])*"';
const PARAMETER = `${TOKEN}=(?:${TOKEN}|${QUOTED})`;
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?: *; *(?:${PARAMETER})?)*$`);

/** Whether `value` is a media type `normalizeMediaType` accepts, as it stands. */
export function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_MEDIA_TYPE_LENGTH && MEDIA_TYPE.test(value);
}

/**
 * `value` checked as an RFC 9110 media type, `type/subtype` with optional `; name=value`
 * parameters (a token or a quoted string), visible ASCII only, and returned without the spaces and
 * tabs around it; anything else is `E_INVALID_ARGUMENT`. A stored type is sent back as a
 * `Content-Type` header on every read, so a value a header cannot carry is refused on the way in.
 */
export function normalizeMediaType(value: unknown, field = 'contentType'): string {
  const type = typeof value === 'string' ? value.replace(/^[ \t]+|[ \t]+$/g, '') : '';
  if (!isMediaType(type)) {
    throw StorageError.invalidArgument(
      `${field} must be a media type like image/png or text/plain; charset=utf-8 (visible ASCII, at most ${MAX_MEDIA_TYPE_LENGTH} characters)`,
    );
  }
  return type;
}
