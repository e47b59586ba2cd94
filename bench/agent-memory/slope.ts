/** A least-squares line through (x, y) points, with a 95% interval for its slope. */
export interface Fit {
  slope: number;
  intercept: number;
  /** 95% confidence interval of the slope. */
  low: number;
  high: number;
  n: number;
  /** Lag-1 autocorrelation of the residuals (0 when negative). */
  r1: number;
  /** n shrunk for that autocorrelation: n (1 - r1) / (1 + r1). */
  nEffective: number;
}

/**
 * Ordinary least squares of y on x. The slope's standard error is widened for the residuals' lag-1
 * autocorrelation r (effective sample size n (1 - r) / (1 + r), as for an AR(1) series), since memory
 * samples a few seconds apart are not independent; the interval uses 1.96 (a normal approximation: the
 * benches fit hundreds of points; with under 30 effective points it is somewhat too narrow).
 */
export function fitSlope(points: readonly (readonly [number, number])[]): Fit {
  const n = points.length;
  if (n < 3) throw new Error(`a slope needs at least 3 points, got ${n}`);
  let mx = 0;
  let my = 0;
  for (const [x, y] of points) {
    mx += x / n;
    my += y / n;
  }
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  if (sxx === 0) throw new Error('a slope needs at least two different x');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residuals = points.map(([x, y]) => y - intercept - slope * x);
  const sse = residuals.reduce((a, r) => a + r * r, 0);
  let lag = 0;
  for (let i = 1; i < n; i++) lag += (residuals[i] as number) * (residuals[i - 1] as number);
  const r1 = sse > 0 ? Math.max(0, lag / sse) : 0;
  const nEffective = Math.max(3, (n * (1 - r1)) / (1 + r1));
  const se = Math.sqrt(sse / (n - 2) / sxx) * Math.sqrt((n - 2) / Math.max(1, nEffective - 2));
  return { slope, intercept, low: slope - 1.96 * se, high: slope + 1.96 * se, n, r1, nEffective };
}
