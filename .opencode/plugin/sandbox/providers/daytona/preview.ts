/**
 * Preview links of one sandbox, cached per port. A private sandbox's link is signed
 * (a browser opens it without a header) and expires: it is replaced once half its
 * lifetime has passed, so a link handed out always has at least that half left.
 */
import type { PreviewLink } from "../provider.js";

export interface PreviewLinksOptions {
  link: (port: number) => Promise<PreviewLink>;
  lifetimeMs: number;
  now?: () => number;
}

export class PreviewLinks {
  private readonly cache = new Map<number, { link: Promise<PreviewLink>; refreshAt: number }>();

  constructor(private readonly o: PreviewLinksOptions) {}

  get(port: number): Promise<PreviewLink> {
    const now = (this.o.now ?? Date.now)();
    const cached = this.cache.get(port);
    if (cached && now < cached.refreshAt) return cached.link;
    const link = this.o.link(port);
    this.cache.set(port, { link, refreshAt: now + this.o.lifetimeMs / 2 });
    link.catch(() => this.cache.delete(port));
    return link;
  }
}
