export {
  parseRocmSmiJson,
  ROCM_SMI_ISSUES,
  type RocmSmiIssue,
  type RocmSmiParseResult,
} from './rocm-smi-parser.ts';
export {
  DEFAULT_ROCM_SMI_TIMEOUT_MS,
  ROCM_SMI_ARGS,
  RocmSmiSource,
  type RocmSmiSourceOptions,
  rocmSmiAvailable,
} from './rocm-smi-source.ts';
