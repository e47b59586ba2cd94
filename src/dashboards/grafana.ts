/**
 * Small typed builders of Grafana dashboard JSON (schema version 41, Grafana 12), for the InfluxQL data
 * source that deploy/grafana/provisioning/datasources/gpumon.yaml provisions. Only what gpumon's dashboards
 * use; why not @grafana/grafana-foundation-sdk: docs/decisions/0005-grafana-dashboards-as-code.md.
 */

/** The provisioned data source (its uid in deploy/grafana/provisioning/datasources/gpumon.yaml). */
export const DATASOURCE = { type: 'influxdb', uid: 'gpumon-influxdb' } as const;

export interface Target {
  refId: string;
  datasource: typeof DATASOURCE;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
}

export type PanelType =
  | 'timeseries'
  | 'stat'
  | 'gauge'
  | 'table'
  | 'state-timeline'
  | 'histogram'
  | 'heatmap'
  | 'barchart'
  | 'bargauge'
  | 'piechart'
  | 'text'
  | 'row';

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Panel {
  id: number;
  type: PanelType;
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource?: typeof DATASOURCE;
  targets?: Target[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
  transformations?: { id: string; options: Record<string, unknown> }[];
  collapsed?: boolean;
  panels?: Panel[];
}

export interface Variable {
  name: string;
  label: string;
  type: 'query' | 'textbox';
  datasource?: typeof DATASOURCE;
  query: string;
  definition?: string;
  refresh?: 1 | 2;
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
  current: { text: string | string[]; value: string | string[] };
  sort?: number;
  hide: 0;
  description?: string;
}

export interface Annotation {
  name: string;
  datasource: typeof DATASOURCE | { type: 'grafana'; uid: '-- Grafana --' };
  enable: boolean;
  hide?: boolean;
  iconColor: string;
  query?: string;
  textColumn?: string;
  tagsColumn?: string;
  titleColumn?: string;
  builtIn?: 1;
  type?: 'dashboard';
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: 'utc';
  editable: true;
  graphTooltip: 1;
  refresh: string;
  schemaVersion: 41;
  version: 1;
  time: { from: string; to: string };
  templating: { list: Variable[] };
  annotations: { list: Annotation[] };
  links: {
    title: string;
    type: 'dashboards';
    tags: string[];
    asDropdown: boolean;
    includeVars: boolean;
    keepTime: boolean;
  }[];
  panels: Panel[];
}

/** What a panel is before the layout places it. */
export interface PanelSpec {
  type: Exclude<PanelType, 'row'>;
  title: string;
  description?: string;
  /** Width in grid columns (24 a row), height in rows. */
  w?: number;
  h?: number;
  queries: readonly (string | { query: string; alias?: string; format?: 'time_series' | 'table' })[];
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  /** Table-like queries (a table, or a panel that reads rows). */
  format?: 'time_series' | 'table';
  options?: Record<string, unknown>;
  custom?: Record<string, unknown>;
  thresholds?: readonly { value: number | null; color: string }[];
  mappings?: unknown[];
  transformations?: { id: string; options: Record<string, unknown> }[];
}

export interface RowSpec {
  row: string;
  panels: readonly PanelSpec[];
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function refId(i: number): string {
  return i < REF_IDS.length ? (REF_IDS[i] as string) : `Q${i}`;
}

function panelOf(spec: PanelSpec, id: number, gridPos: GridPos): Panel {
  const targets = spec.queries.map((q, i): Target => {
    const { query, alias, format } =
      typeof q === 'string' ? { query: q, alias: undefined, format: undefined } : q;
    return {
      refId: refId(i),
      datasource: DATASOURCE,
      query,
      rawQuery: true,
      resultFormat: format ?? spec.format ?? (spec.type === 'table' ? 'table' : 'time_series'),
      ...(alias === undefined ? {} : { alias }),
    };
  });
  const defaults: Record<string, unknown> = {
    ...(spec.unit === undefined ? {} : { unit: spec.unit }),
    ...(spec.min === undefined ? {} : { min: spec.min }),
    ...(spec.max === undefined ? {} : { max: spec.max }),
    ...(spec.decimals === undefined ? {} : { decimals: spec.decimals }),
    ...(spec.custom === undefined ? {} : { custom: spec.custom }),
    ...(spec.mappings === undefined ? {} : { mappings: spec.mappings }),
    thresholds: {
      mode: 'absolute',
      steps: spec.thresholds ?? [{ value: null, color: 'green' }],
    },
  };
  return {
    id,
    type: spec.type,
    title: spec.title,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    gridPos,
    datasource: DATASOURCE,
    targets,
    fieldConfig: { defaults, overrides: [] },
    options: spec.options ?? {},
    ...(spec.transformations === undefined ? {} : { transformations: spec.transformations }),
  };
}

/** Rows of panels laid out left to right, wrapping at 24 columns; each row a Grafana row panel. */
export function layout(rows: readonly RowSpec[]): Panel[] {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.row,
      gridPos: { x: 0, y, w: 24, h: 1 },
      collapsed: false,
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of row.panels) {
      const w = spec.w ?? 12;
      const h = spec.h ?? 8;
      if (x + w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelOf(spec, id++, { x, y, w, h }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return panels;
}

/** A template variable listing the values of one tag (`SHOW TAG VALUES`), All and several allowed. */
export function tagVariable(name: string, label: string, query: string): Variable {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query,
    definition: query,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { text: ['All'], value: ['$__all'] },
    sort: 1,
    hide: 0,
  };
}

/** A free-text variable with a default (a threshold the user may change). */
export function textVariable(name: string, label: string, value: string, description: string): Variable {
  return {
    name,
    label,
    type: 'textbox',
    query: value,
    current: { text: value, value },
    hide: 0,
    description,
  };
}

/** Grafana's own annotations (those users add by hand). */
export const BUILT_IN_ANNOTATION: Annotation = {
  name: 'Annotations & Alerts',
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  builtIn: 1,
  type: 'dashboard',
};

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  time: { from: string; to: string };
  refresh: string;
  variables: Variable[];
  annotations: Annotation[];
  rows: readonly RowSpec[];
}

export function dashboard(spec: DashboardSpec): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    refresh: spec.refresh,
    schemaVersion: 41,
    version: 1,
    time: spec.time,
    templating: { list: spec.variables },
    annotations: { list: [BUILT_IN_ANNOTATION, ...spec.annotations] },
    links: [
      {
        title: 'gpumon dashboards',
        type: 'dashboards',
        tags: ['gpumon'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
      },
    ],
    panels: layout(spec.rows),
  };
}
