// A request for a path the API serves, with a method it does not serve there, is a 405 naming the
// methods that path takes (RFC 9110 `Allow`), not a 404 saying the path does not exist.
/** Methods registered for `path` (HEAD wherever GET is); empty when no route matches it. */
export function allowedMethods(routes: readonly { method: string; path: string }[], path: string): string[] {
  const allowed = new Set<string>();
  for (const route of routes) {
    // Middleware (`app.use`) is registered as ALL and serves nothing by itself.
    if (route.method === 'ALL' || !patternOf(route.path).test(path)) continue;
    allowed.add(route.method);
    if (route.method === 'GET') allowed.add('HEAD');
  }
  return [...allowed].sort();
}

const patterns = new Map<string, RegExp>();

/** Hono's path syntax as far as the API uses it: literal segments, `:param` (with an optional `{regex}`), and `*`. */
function patternOf(path: string): RegExp {
  let pattern = patterns.get(path);
  if (!pattern) {
    const segments = path.split('/').map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    });
    pattern = new RegExp(`^${segments.join('/')}/?$`);
    patterns.set(path, pattern);
  }
  return pattern;
}
