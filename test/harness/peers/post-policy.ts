import { createHmac, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';

/**
 * Checks an HTML form upload (POST Object) as S3 and OSS check it, written from AWS's "Browser-
 * Based Uploads Using POST (AWS Signature Version 4)" and OSS's "PostObject" pages rather than with
 * an SDK's signer, so it does not share a signer's mistakes. s3rver accepts any form and ignores
 * the policy; this makes the test peers refuse what the backends refuse: a bad signature, an
 * expired policy, a field the policy does not allow, and a file outside `content-length-range`
 * (400 EntityTooLarge / EntityTooSmall).
 */

export interface PolicyRefusal {
  status: number;
  code: string;
  message: string;
}

/** A parsed form: fields by lower-case name (as both backends compare them), the file's size. */
export interface ParsedForm {
  fields: Map<string, string>;
  fileSize: number;
  /** The raw body, saved to a temporary file, to hand on to the peer; `dispose` removes it. */
  bodyFile: string;
  dispose(): Promise<void>;
}

/**
 * Reads a multipart/form-data request to its end: the fields up to the file, the file's size,
 * and the raw body saved to a temp file (streamed, never held in memory).
 */
export async function readForm(req: IncomingMessage): Promise<ParsedForm> {
  const dir = await mkdtemp(path.join(tmpdir(), 'post-form-'));
  const bodyFile = path.join(dir, 'body');
  const fields = new Map<string, string>();
  let fileSize = 0;
  let seenFile = false;
  const parser = busboy({ headers: req.headers, limits: { fieldSize: 64 * 1024 } });
  parser.on('field', (name: string, value: string) => {
    if (!seenFile) fields.set(name.toLowerCase(), value);
  });
  parser.on('file', (name: string, file: NodeJS.ReadableStream) => {
    if (name !== 'file' || seenFile) return void file.resume();
    seenFile = true;
    file.on('data', (chunk: Buffer) => (fileSize += chunk.length));
  });
  const tee = new PassThrough();
  tee.pipe(parser);
  const parsed = new Promise<void>((resolve, reject) => parser.on('close', resolve).on('error', reject));
  await Promise.all([pipeline(req, tee, createWriteStream(bodyFile)), parsed]);
  if (!seenFile) fields.delete('file');
  return { fields, fileSize, bodyFile, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export type Condition = Record<string, string> | [string, string | number, string | number];

/** Decodes a base64 policy: null when it is not `{ expiration, conditions: [...] }`. */
export function decodePolicy(policy: string): { expiration: string; conditions: Condition[] } | null {
  try {
    const decoded = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as unknown;
    const { expiration, conditions } = decoded as { expiration?: unknown; conditions?: unknown };
    if (typeof expiration !== 'string' || !Array.isArray(conditions)) return null;
    return { expiration, conditions: conditions as Condition[] };
  } catch {
    return null;
  }
}

/**
 * The policy's conditions against the form: every condition must hold, and (S3's rule) every
 * field but the signature, the policy, the file and `x-ignore-*` must be named by a condition.
 * `bucket` is the bucket the form was posted to.
 */
export function checkConditions(
  conditions: Condition[],
  form: { fields: Map<string, string>; fileSize: number },
  bucket: string,
  exempt: string[],
): PolicyRefusal | null {
  const value = (name: string) => (name === 'bucket' ? bucket : (form.fields.get(name) ?? ''));
  const named = new Set<string>();
  const denied = (why: string): PolicyRefusal => ({
    status: 403,
    code: 'AccessDenied',
    message: `Invalid according to Policy: Policy Condition failed: ${why}`,
  });
  for (const condition of conditions) {
    if (Array.isArray(condition)) {
      const [op, a, b] = condition;
      if (op === 'content-length-range') {
        const [min, max] = [Number(a), Number(b)];
        if (form.fileSize > max) {
          return {
            status: 400,
            code: 'EntityTooLarge',
            message: 'Your proposed upload exceeds the maximum allowed size',
          };
        }
        if (form.fileSize < min) {
          return {
            status: 400,
            code: 'EntityTooSmall',
            message: 'Your proposed upload is smaller than the minimum allowed size',
          };
        }
        continue;
      }
      const name = String(a).replace(/^\$/, '').toLowerCase();
      named.add(name);
      if (op === 'eq' && value(name) !== String(b)) return denied(`["eq", "$${name}", "${String(b)}"]`);
      if (op === 'starts-with' && !value(name).startsWith(String(b))) {
        return denied(`["starts-with", "$${name}", "${String(b)}"]`);
      }
      if (op !== 'eq' && op !== 'starts-with') return denied(`unknown operator ${String(op)}`);
    } else {
      for (const [name, expected] of Object.entries(condition)) {
        named.add(name.toLowerCase());
        if (value(name.toLowerCase()) !== String(expected)) return denied(`["eq", "$${name}", "${String(expected)}"]`);
      }
    }
  }
  for (const name of form.fields.keys()) {
    if (exempt.includes(name) || name.startsWith('x-ignore-') || named.has(name)) continue;
    return denied(`extra input fields: ${name}`);
  }
  return null;
}

/** An S3 POST form signed with SigV4: signature over the base64 policy, then the policy's conditions. */
export function checkPostPolicyV4(
  form: { fields: Map<string, string>; fileSize: number },
  bucket: string,
  secretOf: (accessKeyId: string) => string | undefined,
  now = Date.now(),
): PolicyRefusal | null {
  const field = (name: string) => form.fields.get(name) ?? '';
  const policy = field('policy');
  const decoded = decodePolicy(policy);
  if (!decoded) return { status: 400, code: 'InvalidPolicyDocument', message: 'Invalid Policy: Invalid JSON.' };
  if (field('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') {
    return { status: 400, code: 'InvalidArgument', message: 'Unsupported x-amz-algorithm' };
  }
  const [accessKeyId, ...scope] = field('x-amz-credential').split('/');
  const secret = secretOf(accessKeyId);
  if (secret === undefined) {
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    };
  }
  if (scope.length !== 4) return { status: 400, code: 'InvalidArgument', message: 'x-amz-credential is malformed' };
  let key = hmac(`AWS4${secret}`, scope[0]);
  for (const part of scope.slice(1)) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(policy).digest('hex');
  if (!same(expected, field('x-amz-signature'))) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  if (!(Date.parse(decoded.expiration) > now)) {
    return { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.' };
  }
  return checkConditions(decoded.conditions, form, bucket, ['policy', 'x-amz-signature', 'file']);
}

/** An OSS PostObject form: `Signature` = base64 HMAC-SHA1 of the base64 policy, then the conditions. */
export function checkOssPostPolicy(
  form: { fields: Map<string, string>; fileSize: number },
  bucket: string,
  secretOf: (accessKeyId: string) => string | undefined,
  now = Date.now(),
): PolicyRefusal | null {
  const field = (name: string) => form.fields.get(name) ?? '';
  const policy = field('policy');
  const decoded = decodePolicy(policy);
  if (!decoded) return { status: 400, code: 'InvalidPolicyDocument', message: 'Invalid Policy: Invalid JSON.' };
  const secret = secretOf(field('ossaccesskeyid'));
  if (secret === undefined) {
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The OSS Access Key Id you provided does not exist in our records.',
    };
  }
  const expected = createHmac('sha1', secret).update(policy).digest('base64');
  if (!same(expected, field('signature'))) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  if (!(Date.parse(decoded.expiration) > now)) {
    return { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.' };
  }
  // OSS names its own fields without listing them in the policy.
  return checkConditions(decoded.conditions, form, bucket, [
    'policy',
    'signature',
    'ossaccesskeyid',
    'file',
    'success_action_status',
  ]);
}

/** The fields of a form as `application/xml` S3/OSS error body. */
export function errorXml(refusal: PolicyRefusal): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${refusal.message}</Message></Error>`;
}

export function isForm(headers: IncomingHttpHeaders): boolean {
  return /^multipart\/form-data/i.test(String(headers['content-type'] ?? ''));
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function same(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
