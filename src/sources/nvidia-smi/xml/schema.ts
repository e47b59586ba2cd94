/** A node of `nvidia-smi -q -x` as fast-xml-parser gives it: text, or an element's children by name. */
export type XmlNode = string | { [name: string]: XmlNode | XmlNode[] | undefined };

/**
 * Where one generation of the `nvsmi_device_vNN.dtd` schema keeps what changed between generations. Every
 * list is in order of preference: the first path that holds a value wins. What did not change (memory,
 * utilization, temperature, clocks, PCIe) is read the same for all.
 */
export interface XmlSchema {
  /** `v10`, `v11`, `v12`, `v13`: the DTD generation this parser was written against. */
  readonly name: string;
  /** Board power draw, W. */
  readonly powerDraw: readonly (readonly string[])[];
  /** Enforced power limit, W. */
  readonly powerLimit: readonly (readonly string[])[];
  /** The element holding clock event (throttle) flags, and the prefix of each flag's element name. */
  readonly eventReasons: readonly { readonly container: string; readonly prefix: string }[];
}
