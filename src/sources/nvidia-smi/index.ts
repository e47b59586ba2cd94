export type { ComputeAppsResult, ParseProblem, QueryGpuOptions, QueryGpuResult } from './csv.ts';
export { findCsvTables, parseComputeApps, parseQueryGpuCsv } from './csv.ts';
export { type ListedDevice, parseListGpus } from './list.ts';
export { NvidiaSmiSource, type NvidiaSmiSourceOptions } from './nvidia-smi-source.ts';
export { nvidiaSmiAvailable } from './run.ts';
export { parseSmiXml, XML_SCHEMAS, type XmlOptions, type XmlResult } from './xml/parse-xml.ts';
