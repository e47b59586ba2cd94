/**
 * The CUDA version as people write it (`12.2`) from the integer NVML and DCGM give
 * (`nvmlSystemGetCudaDriverVersion_v2`, dcgm-exporter's `DCGM_FI_CUDA_DRIVER_VERSION` label): 1000 x major +
 * 10 x minor (`12020`). Null for anything else (0, negative, not an integer).
 */
export function cudaVersionText(value: number | string | null | undefined): string | null {
  const n = typeof value === 'string' && /^\d{1,7}$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1000) return null;
  return `${Math.floor(n / 1000)}.${Math.floor((n % 1000) / 10)}`;
}
