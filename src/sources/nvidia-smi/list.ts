/** A GPU or MIG instance as `nvidia-smi -L` lists it. */
export interface ListedDevice {
  index: number;
  uuid: string;
  /** GPU: the product name; MIG: the profile (`3g.40gb`). */
  name: string;
  /** For a MIG instance, its GPU's UUID. */
  parentUuid: string | null;
}

const GPU_LINE = /^GPU (\d+): (.+?) \(UUID: (GPU-[\w-]+)\)\s*$/;
const MIG_LINE = /^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[\w/-]+)\)\s*$/;

/**
 * Parses `nvidia-smi -L`: `GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)`, then one indented line per MIG
 * instance (`  MIG 3g.40gb     Device  0: (UUID: MIG-...)`). Other lines are ignored. Never throws.
 */
export function parseListGpus(text: string): ListedDevice[] {
  const out: ListedDevice[] = [];
  let parent: ListedDevice | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const gpu = GPU_LINE.exec(line);
    if (gpu) {
      parent = { index: Number(gpu[1]), name: gpu[2] as string, uuid: gpu[3] as string, parentUuid: null };
      out.push(parent);
      continue;
    }
    const mig = MIG_LINE.exec(line);
    if (mig && parent) {
      out.push({
        index: Number(mig[2]),
        name: mig[1] as string,
        uuid: mig[3] as string,
        parentUuid: parent.uuid,
      });
    }
  }
  return out;
}
