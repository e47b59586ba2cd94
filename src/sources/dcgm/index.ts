export {
  DCGM_FIELDS,
  DCGM_ISSUES,
  type DcgmIssue,
  type DcgmParseResult,
  type DcgmUnmapped,
  type DcgmWorkload,
  parseDcgmMetrics,
} from './dcgm-parser.ts';
export { DcgmSource, type DcgmSourceOptions, DEFAULT_DCGM_TIMEOUT_MS, dcgmAvailable } from './dcgm-source.ts';
