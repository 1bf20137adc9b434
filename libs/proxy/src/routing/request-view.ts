import type { IncomingHttpHeaders } from 'node:http';

/** What route matching sees of a downstream request; built once per request. */
export class RequestView {
  /** The path without query string or fragment. */
  readonly pathOnly: string;
  private queryParams: URLSearchParams | undefined;

  constructor(
    readonly method: string,
    /** Host / :authority as the client sent it (may carry a port). */
    readonly authority: string,
    /** :path, query included. */
    readonly path: string,
    readonly scheme: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    let end = path.length;
    const query = path.indexOf('?');
    if (query !== -1) end = query;
    const fragment = path.indexOf('#');
    if (fragment !== -1 && fragment < end) end = fragment;
    this.pathOnly = end === path.length ? path : path.slice(0, end);
  }

  /** The value Envoy's header matchers see: pseudo-headers included, repeated headers joined with ",". */
  header(name: string): string | undefined {
    switch (name) {
      case ':method':
        return this.method;
      case ':path':
        return this.path;
      case ':authority':
      case 'host':
        return this.authority;
      case ':scheme':
        return this.scheme;
    }
    const value = this.headers[name];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(',') : value;
  }

  /** First value of a decoded query parameter, parsed lazily (most routes never ask). */
  queryParameter(name: string): string | undefined {
    if (this.queryParams === undefined) {
      const query = this.path.indexOf('?');
      let search = query === -1 ? '' : this.path.slice(query + 1);
      const fragment = search.indexOf('#');
      if (fragment !== -1) search = search.slice(0, fragment);
      this.queryParams = new URLSearchParams(search);
    }
    return this.queryParams.get(name) ?? undefined;
  }
}
