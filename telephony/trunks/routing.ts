/**
 * Which carrier trunks may carry a number, best first: the longest matching dial prefix wins,
 * then the trunk's priority, then the cheaper price. Down trunks are left out (and reported), so
 * failover never waits on a trunk already known dead.
 */
import type { TrunkConfig, TrunkRoute } from './config.js';
import type { TrunkHealth } from './health.js';

export interface RouteCandidate {
  trunk: TrunkConfig;
  route: TrunkRoute;
  /** What goes in the Request-URI user part. */
  dialString: string;
}

export interface RouteSelection {
  candidates: RouteCandidate[];
  /** Trunks that had a matching route but are down. */
  skipped: { trunk: string; routePrefix: string; reason: string }[];
}

/** "+49 30 1234" and "4930 1234" both become "49301234". */
export function dialDigits(number: string): string {
  return number.replace(/[^\d]/g, '');
}

export function longestMatchingRoute(trunk: TrunkConfig, digits: string): TrunkRoute | undefined {
  let best: TrunkRoute | undefined;
  for (const route of trunk.routes) {
    if (digits.startsWith(route.prefix) && (best === undefined || route.prefix.length > best.prefix.length)) best = route;
  }
  return best;
}

export function selectRoutes(trunks: readonly TrunkConfig[], number: string, health?: TrunkHealth): RouteSelection {
  const digits = dialDigits(number);
  const matches: RouteCandidate[] = [];
  const skipped: RouteSelection['skipped'] = [];
  for (const trunk of trunks) {
    if (trunk.kind !== 'carrier') continue;
    const route = longestMatchingRoute(trunk, digits);
    if (route === undefined) continue;
    if (health !== undefined && !health.isUp(trunk.name)) {
      const state = health.state(trunk.name);
      skipped.push({ trunk: trunk.name, routePrefix: route.prefix, reason: `down since ${state.since.toISOString()}: ${state.lastFailure ?? 'unknown'}` });
      continue;
    }
    matches.push({ trunk, route, dialString: route.prepend + digits.slice(route.strip) });
  }
  matches.sort(
    (a, b) =>
      b.route.prefix.length - a.route.prefix.length ||
      a.trunk.priority - b.trunk.priority ||
      a.route.pricePerMinute - b.route.pricePerMinute ||
      a.trunk.name.localeCompare(b.trunk.name),
  );
  return { candidates: matches, skipped };
}
