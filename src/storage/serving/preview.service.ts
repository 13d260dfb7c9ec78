import { Injectable } from '@nestjs/common';
import { storedFileResponse, type FileResponse } from './file-response';
import type { OpenedFile } from './opened-file';
import { isActiveType, isInlineType, looksActive, pdfMatches, SNIFF_BYTES } from './inline-policy';
import { type ResolvedPreviewOptions } from '../options/preview.options';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

const VERDICTS_KEPT = 1000;

/**
 * The public preview of a stored file: inline only when its declared type is on the allow-list,
 * is not a type a browser would run, and its first bytes do not look like markup (and, for a PDF,
 * start as a PDF does); otherwise an attachment. Either way sandboxed by CSP (inline PDF aside) and never sniffed.
 *
 * The verdict is made here, from one small ranged read, rather than at upload time: the upload
 * path stays untouched, a change of the allow-list applies to files already stored, and the
 * verdict is kept per object (in memory, bounded; objects are immutable), so a file is read for it once.
 */
@Injectable()
export class PreviewService {
  private readonly options: ResolvedPreviewOptions;
  private readonly verdicts = new Map<string, boolean>();

  constructor(@InjectStorageOptions() options: ResolvedStorageOptions) {
    this.options = options.preview;
  }

  async preview(opened: OpenedFile): Promise<FileResponse> {
    const inline = await this.inline(opened).catch((err: unknown) => {
      opened.object.close();
      throw err;
    });
    return storedFileResponse(opened, {
      disposition: inline ? 'inline' : 'attachment',
      cacheControl: this.options.cacheControl,
    });
  }

  private async inline({ entity, instance, stat }: OpenedFile): Promise<boolean> {
    if (isActiveType(entity.type) || !isInlineType(entity.type, this.options.inlineTypes)) return false;
    const id = entity.objectHash;
    const known = this.verdicts.get(id);
    if (known !== undefined) return known;
    const length = Math.min(stat.size, SNIFF_BYTES);
    const chunks: Buffer[] = [];
    if (length > 0) {
      const stream = await instance.driver.get(entity.objectKey, { range: { start: 0, end: length - 1 } });
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    }
    const head = Buffer.concat(chunks);
    const verdict = !looksActive(head) && pdfMatches(entity.type, head);
    if (this.verdicts.size >= VERDICTS_KEPT) this.verdicts.delete(this.verdicts.keys().next().value as string);
    this.verdicts.set(id, verdict);
    return verdict;
  }
}
