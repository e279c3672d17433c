import type { CheerioAPI } from 'cheerio';
import { SluiceError } from '../../../core/errors.js';
import type { PageRule, ScanOptions } from './scan-options.js';

export interface PageFacts {
  title: string | null;
  exists: boolean;
  private: boolean;
  downloadUrl: string | null;
}

type Load = (html: string) => CheerioAPI;

/** Compiles the page rules once; a selector cheerio cannot read is a config error naming its option. */
export function createPageChecker(opts: ScanOptions, load: Load) {
  const empty = load('<html></html>');
  const tryRule = (rule: PageRule | undefined, where: string) => {
    if (!rule?.selector) return;
    try {
      empty(rule.selector);
    } catch (error) {
      throw new SluiceError('CONFIG_INVALID', `${where}.selector is not a CSS selector cheerio can read`, {
        where,
        cause: error,
      });
    }
  };
  tryRule(opts.invalid, 'source.invalid');
  tryRule(opts.private, 'source.private');
  tryRule(opts.download, 'source.download');
  const invalidText = opts.invalid?.text ? new RegExp(opts.invalid.text, 'i') : undefined;
  const privateText = opts.private?.text ? new RegExp(opts.private.text, 'i') : undefined;

  return (html: string, status: number, url: URL): PageFacts => {
    const $ = load(html);
    const title = $('title').first().text().replace(/\s+/g, ' ').trim() || null;
    const text = () => $('body').text().replace(/\s+/g, ' ');
    const holds = (rule: PageRule | undefined, pattern: RegExp | undefined) =>
      rule !== undefined &&
      ((rule.selector !== undefined && $(rule.selector).length > 0) ||
        (pattern !== undefined && pattern.test(text())));
    const exists = status >= 200 && status < 300 && !holds(opts.invalid, invalidText);
    const isPrivate = exists && holds(opts.private, privateText);
    let downloadUrl: string | null = null;
    if (exists && opts.download) {
      const value = $(opts.download.selector).first().attr(opts.download.attribute)?.trim();
      if (value) {
        try {
          const target = new URL(value, url);
          if (target.protocol === 'http:' || target.protocol === 'https:') downloadUrl = target.href;
        } catch {
          // An attribute that is not a URL offers nothing to download.
        }
      }
    }
    return { title, exists, private: isPrivate, downloadUrl };
  };
}
