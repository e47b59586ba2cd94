/**
 * How a MIG instance is named in a sample, the same in every source (docs/metrics.md, "MIG instances"):
 * - `uuid`: the MIG device's own UUID (`MIG-xxxxxxxx-...`, drivers from 470) where the source can read it
 *   (NVML, nvidia-smi with `-L`), the id the kubelet's pod-resources API gives MIG devices; otherwise the name
 *   drivers before 470 gave them, `MIG-<GPU uuid>/<GI>/<CI>` (`legacyMigUuid`); dcgm-exporter, which
 *   reports GPU instances and not their compute instances, `MIG-<GPU uuid>/<GI>`;
 * - `gpu_index`: the parent GPU's index (dcgm-exporter's `gpu` label, nvidia-smi's GPU column);
 * - `model`: `<parent model> MIG <profile>` as NVML names MIG devices (`NVIDIA A100-SXM4-80GB MIG 3g.40gb`),
 *   `<parent model> MIG` where the profile is unknown (`migModel`);
 * - `parent_uuid`, `mig_gpu_instance_id`, `mig_compute_instance_id`: the GPU it is carved from and its ids.
 */

/** `MIG-<GPU uuid>/<GI>/<CI>` (or `MIG-<GPU uuid>/<GI>` without a compute instance id). */
export function legacyMigUuid(parentUuid: string, gi: number | null, ci: number | null): string {
  return `MIG-${parentUuid}/${gi ?? '?'}${ci === null ? '' : `/${ci}`}`;
}

/** `NVIDIA A100-SXM4-80GB MIG 3g.40gb`: the parent's model, `MIG`, and the profile where known. */
export function migModel(parentModel: string, profile: string | null): string {
  return profile ? `${parentModel} MIG ${profile}` : `${parentModel} MIG`;
}

/** `3g.40gb` out of a MIG device name such as `NVIDIA A100-SXM4-80GB MIG 3g.40gb`; null otherwise. */
export function migProfile(name: string | null): string | null {
  return (name && /\bMIG\s+(\S+)$/.exec(name)?.[1]) || null;
}

/** A MIG instance id read from text (`3`), or null when absent or not a small non-negative integer. */
export function migId(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined || !/^\d{1,5}$/.test(raw.trim())) return null;
  const id = Number(raw.trim());
  return id <= 65535 ? id : null;
}
